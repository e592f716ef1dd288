import type * as grpc from "@grpc/grpc-js";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { grpcFailure } from "./grpc-target.js";
import { PreflightError, type Done, type Target } from "./target.js";
import type { TargetSpec } from "./target-spec.js";

export interface InvokeReply {
  message: string;
  duration_us: number;
  cold_start: boolean;
}

/**
 * One instance of the node runtime, invoked through its own API (noderuntime.v1.NodeRuntime/Invoke),
 * which calls the function's Greeter with `name` = the payload. No Kubernetes involved.
 */
export class NodeRuntimeTarget implements Target {
  readonly label: string;
  private readonly ownClient: boolean;
  private readonly api: ApiClient;
  /** Only when made from the API's address (a shared client cannot move to another thread). */
  readonly spec?: TargetSpec;

  constructor(
    api: ApiClient | string,
    readonly instanceId: string,
    private readonly onReply?: (r: InvokeReply) => void,
  ) {
    this.ownClient = typeof api === "string";
    this.api = typeof api === "string" ? new ApiClient(api) : api;
    this.label = `node-runtime instance ${instanceId}`;
    if (typeof api === "string" && !onReply) this.spec = { kind: "node-runtime", api, instanceId };
  }

  invoke(payload: string, deadlineMs: number, done: Done): void {
    const client = this.api.runtime as grpc.Client &
      Record<string, (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: InvokeReply) => void) => void>;
    client.Invoke!({ instance_id: this.instanceId, name: payload }, { deadline: Date.now() + deadlineMs }, (err, res) => {
      if (err) done(grpcFailure(err), "");
      else {
        this.onReply?.(res);
        done(null, res.message);
      }
    });
  }

  preflight(payload: string, deadlineMs: number): Promise<string> {
    return new Promise((resolve, reject) => this.invoke(payload, deadlineMs, (f, reply) => (f ? reject(new PreflightError(f)) : resolve(reply))));
  }

  close(): void {
    if (this.ownClient) this.api.close();
  }
}
