// A local HTTP artifact mirror for tests: serves real small files (and checksum files made from
// them) under `<mirror>/<upstream host>/<upstream path>`, the layout `artifactMirror` expects, and
// records every request, so a test sees exactly what the program downloaded.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export class LocalMirror {
  readonly requests: string[] = [];
  private readonly files = new Map<string, Uint8Array>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<LocalMirror> {
    let mirror: LocalMirror | undefined;
    const server = createServer((req, res) => {
      const path = req.url ?? "/";
      mirror!.requests.push(path);
      const body = mirror!.files.get(path);
      if (!body) {
        res.writeHead(404).end("not on this mirror");
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    mirror = new LocalMirror(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return mirror;
  }

  /** Serves `body` where the mirror puts this upstream URL; returns its sha256 (hex). */
  serve(upstreamUrl: string, body: string | Uint8Array): string {
    const u = new URL(upstreamUrl);
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    this.files.set(`/${u.host}${u.pathname}`, bytes);
    return createHash("sha256").update(bytes).digest("hex");
  }

  /** Requests for this upstream URL so far. */
  requested(upstreamUrl: string): number {
    const u = new URL(upstreamUrl);
    return this.requests.filter((r) => r === `/${u.host}${u.pathname}`).length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
