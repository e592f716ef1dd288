// What the invoker and the loader send requests to: a function behind a gRPC Greeter, an HTTP
// URL, or an instance of the node runtime. One outcome per request, by callback, exactly once.

export interface Failure {
  /** gRPC status name (UNAVAILABLE, DEADLINE_EXCEEDED, …), HTTP_<status>, or a socket error code. */
  code: string;
  message: string;
}

/** `connectNs`: time spent connecting before the request could be sent, when the target knows it. */
export type Done = (failure: Failure | null, reply: string, connectNs?: number) => void;

export interface Target {
  /** What this target is, for messages: "grpc 127.0.0.1:50051", "http http://…", "node-runtime instance x". */
  readonly label: string;
  invoke(payload: string, deadlineMs: number, done: Done): void;
  /** Resolves when one request has succeeded, else rejects with a message that says why. */
  preflight(payload: string, deadlineMs: number): Promise<string>;
  close(): void;
}

/** A plain-language hint for the failures users of vHive meet most (Istio 502s, magic DNS, refused ports). */
export function hintFor(code: string, message: string): string {
  const m = `${code} ${message}`;
  if (/ENOTFOUND|EAI_AGAIN|Name resolution failed|DNS resolution failed/i.test(m)) {
    return "the host name does not resolve: with Knative's magic DNS the resolver must reach it; otherwise pass --connect HOST:PORT (the ingress address) to dial it while keeping the host name as authority";
  }
  if (/ECONNREFUSED|Connection refused/i.test(m))
    return "nothing listens at that address and port: is the function deployed, and is --port right (vSwarm's default is 80)?";
  if (/^HTTP_502|^HTTP_503|status code 502|status code 503|Bad Gateway/i.test(m)) {
    return "the ingress answered but had no healthy function behind it: the revision may be scaling from zero, crashing, or not Ready (kubectl get ksvc)";
  }
  if (/HTTP_404/.test(m)) return "the ingress has no route for this host name: check the hostname in endpoints.json against `kubectl get ksvc`";
  if (/DEADLINE_EXCEEDED|ETIMEDOUT/i.test(m))
    return "no answer within the deadline (--deadline-ms): a cold start, an overloaded function or a black-holed route";
  if (/UNIMPLEMENTED/i.test(m))
    return "the server does not implement helloworld.Greeter/SayHello: is this a vSwarm/vHive function, or an HTTP one (--protocol http)?";
  if (/NOT_FOUND/.test(code)) return "the node runtime has no such instance";
  return "";
}

export function describeFailure(target: Target, f: Failure): string {
  const hint = hintFor(f.code, f.message);
  return `${target.label}: ${f.code}: ${f.message}${hint ? ` (${hint})` : ""}`;
}

/** A failed preflight request, with its outcome. */
export class PreflightError extends Error {
  override name = "PreflightError";
  constructor(readonly failure: Failure) {
    super(`${failure.code}: ${failure.message}`);
  }
}
