import http from "node:http";
import { PreflightError, type Done, type Failure } from "./target.js";
import type { SpecifiedTarget, TargetSpec } from "./target-spec.js";

export interface HttpTargetOptions {
  /** http://host:port/path */
  url: string;
  /** Dial this host:port instead, sending the URL's host in the Host header. */
  connect?: string;
  perRequestConnection?: boolean;
}

/** GET (or POST with the payload as body, when there is one) to a function's HTTP route. */
export class HttpTarget implements SpecifiedTarget {
  readonly label: string;
  readonly spec: TargetSpec;
  private readonly url: URL;
  private readonly agent: http.Agent | undefined;

  constructor(private readonly opts: HttpTargetOptions) {
    this.url = new URL(opts.url);
    if (this.url.protocol !== "http:") throw new Error(`${opts.url}: only http:// is supported (TLS terminates at the ingress)`);
    this.label = `http ${opts.url}${opts.connect ? ` via ${opts.connect}` : ""}`;
    this.spec = { kind: "http", options: { ...opts } };
    this.agent = opts.perRequestConnection ? undefined : new http.Agent({ keepAlive: true, maxSockets: Infinity });
  }

  invoke(payload: string, deadlineMs: number, done: Done): void {
    let finished = false;
    const finish = (f: Failure | null, reply: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done(f, reply);
    };
    const [host, port] = this.opts.connect ? splitHostPort(this.opts.connect) : [this.url.hostname, Number(this.url.port || 80)];
    const body = payload ? Buffer.from(payload) : undefined;
    const req = http.request({
      host,
      port,
      method: body ? "POST" : "GET",
      path: `${this.url.pathname}${this.url.search}`,
      headers: {
        host: this.url.host,
        ...(body ? { "content-type": "text/plain", "content-length": body.length } : {}),
        ...(this.agent ? {} : { connection: "close" }),
      },
      agent: this.agent ?? false,
    });
    const timer = setTimeout(() => {
      finish({ code: "DEADLINE_EXCEEDED", message: `no response within ${deadlineMs} ms` }, "");
      req.destroy();
    }, deadlineMs);
    req.on("error", (err: NodeJS.ErrnoException) => finish({ code: err.code ?? "ERROR", message: err.message }, ""));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err: NodeJS.ErrnoException) => finish({ code: err.code ?? "ERROR", message: err.message }, ""));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) finish(null, text);
        else finish({ code: `HTTP_${status}`, message: `${status} ${res.statusMessage ?? ""}: ${text.slice(0, 200).trim()}` }, "");
      });
    });
    req.end(body);
  }

  preflight(payload: string, deadlineMs: number): Promise<string> {
    return new Promise((resolve, reject) => this.invoke(payload, deadlineMs, (f, reply) => (f ? reject(new PreflightError(f)) : resolve(reply))));
  }

  close(): void {
    this.agent?.destroy();
  }
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(":");
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`--connect: expected HOST:PORT, got ${s}`);
  return [s.slice(0, i).replace(/^\[|\]$/g, ""), port];
}
