// Test double for an OCI distribution registry with a token service (what Docker Distribution,
// Harbor or a cloud registry are to the image store): serves manifests, indexes and blobs on
// 127.0.0.1, with bearer-token or basic auth, and can be told to corrupt what it sends.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RegistryBlob {
  bytes: Buffer;
  mediaType: string;
}

export interface TestRegistryOptions {
  auth: "none" | "bearer" | "basic";
  username?: string;
  password?: string;
}

export class TestRegistry {
  /** Blobs and manifests by digest, per repository. */
  readonly repos = new Map<string, { blobs: Map<string, RegistryBlob>; tags: Map<string, string> }>();
  /** Digests whose bytes are served with one byte flipped. */
  readonly corrupt = new Set<string>();
  /** Every token request, as the token service saw it. */
  readonly tokenRequests: { scope: string | null; service: string | null; user: string | undefined }[] = [];
  /** Every registry request path with the auth scheme used ("none" when anonymous). */
  readonly requests: { path: string; auth: string }[] = [];
  private readonly server: Server;
  private readonly tokens = new Set<string>();
  port = 0;

  constructor(private readonly options: TestRegistryOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Adds content under `repo`; tags point at a manifest or index digest. */
  add(repo: string, blobs: Map<string, RegistryBlob>, tags: Record<string, string> = {}): void {
    const entry = this.repos.get(repo) ?? { blobs: new Map(), tags: new Map() };
    for (const [digest, blob] of blobs) entry.blobs.set(digest, blob);
    for (const [tag, digest] of Object.entries(tags)) entry.tags.set(tag, digest);
    this.repos.set(repo, entry);
  }

  static digestOf(bytes: Buffer): string {
    return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  }

  private basicUser(header: string | undefined): string | undefined {
    if (!header?.startsWith("Basic ")) return undefined;
    const [user, ...rest] = Buffer.from(header.slice(6), "base64").toString().split(":");
    return user === this.options.username && rest.join(":") === this.options.password ? user : undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", `http://${this.host}`);
    if (url.pathname === "/token") {
      const user = this.basicUser(req.headers.authorization);
      this.tokenRequests.push({ scope: url.searchParams.get("scope"), service: url.searchParams.get("service"), user });
      if (!user) {
        res.writeHead(401).end();
        return;
      }
      const token = randomBytes(16).toString("hex");
      this.tokens.add(token);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization;
    this.requests.push({ path: url.pathname, auth: auth ? auth.split(" ")[0]! : "none" });
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    const repo = match?.[1] ?? "";
    if (this.options.auth === "bearer" && !(auth?.startsWith("Bearer ") && this.tokens.has(auth.slice(7)))) {
      res
        .writeHead(401, {
          "www-authenticate": `Bearer realm="http://${this.host}/token",service="vhimg-test-registry",scope="repository:${repo}:pull"`,
        })
        .end();
      return;
    }
    if (this.options.auth === "basic" && !this.basicUser(auth)) {
      res.writeHead(401, { "www-authenticate": `Basic realm="vhimg-test-registry"` }).end();
      return;
    }
    const entry = this.repos.get(repo);
    if (!match || !entry) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: "NAME_UNKNOWN" }] }));
      return;
    }
    const reference = match[3]!;
    const digest = reference.startsWith("sha256:") ? reference : entry.tags.get(reference);
    const blob = digest ? entry.blobs.get(digest) : undefined;
    if (!digest || !blob) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ errors: [{ code: match[2] === "blobs" ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN" }] }));
      return;
    }
    let bytes = blob.bytes;
    if (this.corrupt.has(digest)) {
      bytes = Buffer.from(bytes);
      const last = bytes.length - 1;
      bytes.writeUInt8(bytes.readUInt8(last) ^ 0x01, last);
    }
    res.writeHead(200, {
      "content-type": match[2] === "manifests" ? blob.mediaType : "application/octet-stream",
      "content-length": String(bytes.length),
      "docker-content-digest": digest,
    });
    res.end(req.method === "HEAD" ? undefined : bytes);
  }
}
