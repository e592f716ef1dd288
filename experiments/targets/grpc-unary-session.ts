// Unary gRPC calls over one HTTP/2 connection (node:http2), for the invoker's reused-connection
// mode. grpc-js allocates a call object, a filter stack, Metadata and several closures per call;
// at thousands of calls a second on 2 cores its scavenges were what delayed the open-loop sender
// (bench/results/invoker.json: most late sends fell in GC pauses). Here a call is one HTTP/2
// stream: the request frame is encoded once per payload, the messages are (de)serialised by the
// service definition's own codec (grpc-js + proto-loader), and deadlines are swept by one timer.
import http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { status } from "@grpc/grpc-js";
import type { Failure } from "./target.js";

export interface UnaryCodec<Req, Res> {
  path: string;
  serialize(req: Req): Buffer;
  deserialize(bytes: Buffer): Res;
}

export interface GrpcUnarySessionOptions {
  /** host:port, sent as :authority. */
  authority: string;
  /** host:port to dial instead (ingress without DNS). */
  connect?: string;
}

type Finish<Res> = (failure: Failure | null, res: Res | undefined) => void;

interface PendingCall<Res> {
  stream: http2.ClientHttp2Stream;
  deadline: number;
  finish: Finish<Res>;
}

/** The wire carries status numbers; failures are recorded by name, as grpc-js's client names them. */
const statusName = (n: number) => status[n] ?? `GRPC_${n}`;

/** An HTTP status without gRPC status, named as gRPC's HTTP-to-status mapping does. */
function httpFailure(status: number): Failure {
  const code =
    status === 400
      ? "INTERNAL"
      : status === 401
        ? "UNAUTHENTICATED"
        : status === 403
          ? "PERMISSION_DENIED"
          : status === 404
            ? "UNIMPLEMENTED"
            : [429, 502, 503, 504].includes(status)
              ? "UNAVAILABLE"
              : "UNKNOWN";
  return { code, message: `HTTP status ${status} without a gRPC status` };
}

/** `grpc-message` is percent-encoded on the wire. */
function decodeMessage(v: unknown): string {
  if (typeof v !== "string") return "";
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

const DEADLINE_SWEEP_MS = 5;

/** gRPC's timeout header: at most 8 digits and a unit. */
export function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole <= 99_999_999 ? `${whole}m` : `${Math.min(Math.ceil(whole / 1000), 99_999_999)}S`;
}

export class GrpcUnarySession<Req, Res> {
  private session: http2.ClientHttp2Session | undefined;
  private readonly pending = new Set<PendingCall<Res>>();
  private sweeper: NodeJS.Timeout | undefined;
  private frame: { req: Req; bytes: Buffer } | undefined;
  private readonly headers: http2.OutgoingHttpHeaders;

  constructor(
    private readonly codec: UnaryCodec<Req, Res>,
    private readonly opts: GrpcUnarySessionOptions,
  ) {
    this.headers = {
      ":method": "POST",
      ":path": codec.path,
      ":authority": opts.authority,
      ":scheme": "http",
      "content-type": "application/grpc",
      te: "trailers",
    };
  }

  /** The length-prefixed message (uncompressed), kept while the same request object is sent. */
  private frameFor(req: Req): Buffer {
    if (this.frame?.req === req) return this.frame.bytes;
    const msg = this.codec.serialize(req);
    const bytes = Buffer.allocUnsafe(5 + msg.length);
    bytes[0] = 0;
    bytes.writeUInt32BE(msg.length, 1);
    msg.copy(bytes, 5);
    this.frame = { req, bytes };
    return bytes;
  }

  private open(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const dial = this.opts.connect ?? this.opts.authority;
    const session = http2.connect(`http://${this.opts.authority}`, {
      // Dial `connect` while :authority stays the endpoint's name.
      createConnection: () => {
        const sep = dial.lastIndexOf(":");
        return netConnect({ host: dial.slice(0, sep).replace(/^\[|\]$/g, ""), port: Number(dial.slice(sep + 1)) });
      },
    });
    // Errors reach each stream; a session error with nothing in flight must not throw.
    session.on("error", () => undefined);
    session.on("close", () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    return session;
  }

  call(req: Req, deadlineMs: number, finish: Finish<Res>): void {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.open().request({ ...this.headers, "grpc-timeout": grpcTimeout(deadlineMs) });
    } catch (err) {
      this.session?.destroy();
      finish({ code: "UNAVAILABLE", message: (err as Error).message }, undefined);
      return;
    }
    const p: PendingCall<Res> = { stream, deadline: Date.now() + deadlineMs, finish };
    this.pending.add(p);
    this.sweeper ??= setInterval(() => this.sweep(), DEADLINE_SWEEP_MS);
    let httpStatus = 0;
    let grpcStatus: number | undefined;
    let grpcMessage = "";
    let body: Buffer | undefined;
    let ended = false;
    const end = (failure: Failure | null, res: Res | undefined) => {
      if (ended) return;
      ended = true;
      this.pending.delete(p);
      if (this.pending.size === 0 && this.sweeper) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
      finish(failure, res);
    };
    p.finish = end;
    const takeStatus = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) grpcStatus = Number(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) grpcMessage = decodeMessage(h["grpc-message"]);
    };
    stream.on("response", (h) => {
      httpStatus = Number(h[":status"]);
      takeStatus(h);
    });
    stream.on("data", (chunk: Buffer) => {
      body = body ? Buffer.concat([body, chunk]) : chunk;
    });
    stream.on("trailers", takeStatus);
    stream.on("error", (err: NodeJS.ErrnoException) =>
      end({ code: "UNAVAILABLE", message: err.code ? `${err.code}: ${err.message}` : err.message }, undefined),
    );
    stream.on("close", () => {
      if (grpcStatus === undefined) {
        if (httpStatus !== 0 && httpStatus !== 200) return end(httpFailure(httpStatus), undefined);
        return end({ code: "UNAVAILABLE", message: `the stream closed without a gRPC status (HTTP/2 code ${stream.rstCode ?? 0})` }, undefined);
      }
      if (grpcStatus !== 0) return end({ code: statusName(grpcStatus), message: grpcMessage }, undefined);
      if (!body || body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
        return end({ code: "INTERNAL", message: "the reply was not one uncompressed length-prefixed message" }, undefined);
      }
      let res: Res;
      try {
        res = this.codec.deserialize(body.subarray(5));
      } catch (err) {
        return end({ code: "INTERNAL", message: `the reply did not decode: ${(err as Error).message}` }, undefined);
      }
      end(null, res);
    });
    stream.end(this.frameFor(req));
  }

  /** Calls past their deadline end now, as grpc-js's would, and their streams are cancelled. */
  private sweep(): void {
    const now = Date.now();
    for (const p of this.pending) {
      if (p.deadline > now) continue;
      p.finish({ code: "DEADLINE_EXCEEDED", message: "Deadline exceeded" }, undefined);
      p.stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }

  close(): void {
    for (const p of this.pending) p.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session?.close();
    this.session = undefined;
  }
}
