import * as grpc from "@grpc/grpc-js";
import { apiDefinitions } from "./proto-definitions.js";

type Unary = (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

function call<T>(client: grpc.Client, method: string, req: object, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Unary>)[method]!;
    fn.call(client, req, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

/** Clients of both services for the CLI and tests; every call has a deadline. */
export class ApiClient {
  readonly vhive: grpc.Client;
  readonly runtime: grpc.Client;

  constructor(
    target: string,
    private readonly timeoutMs = 120_000,
  ) {
    const defs = apiDefinitions();
    this.vhive = new defs.vhiveOrchestrator(target, grpc.credentials.createInsecure());
    this.runtime = new defs.nodeRuntime(target, grpc.credentials.createInsecure());
  }

  vhiveCall<T = { message: string }>(method: "StartVM" | "StopSingleVM" | "StopVMs", req: object): Promise<T> {
    return call<T>(this.vhive, method, req, this.timeoutMs);
  }

  // biome-ignore lint/suspicious/noExplicitAny: replies are decoded protobuf objects whose shape each caller names or knows
  runtimeCall<T = any>(method: string, req: object = {}): Promise<T> {
    return call<T>(this.runtime, method, req, this.timeoutMs);
  }

  close(): void {
    this.vhive.close();
    this.runtime.close();
  }
}
