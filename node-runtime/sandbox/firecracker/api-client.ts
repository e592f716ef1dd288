import { request } from "node:http";
import { SandboxHostError } from "../errors.js";
import type {
  BootSource,
  Drive,
  FirecrackerVersion,
  InstanceInfo,
  MachineConfiguration,
  NetworkInterface,
  SnapshotCreateParams,
  SnapshotLoadParams,
  VmState,
} from "./api-types.js";

/** A request Firecracker refused; `faultMessage` is its own explanation. */
export class FirecrackerApiError extends SandboxHostError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly faultMessage: string,
  ) {
    super(`Firecracker ${method} ${path} failed (${status}): ${faultMessage}`);
  }
}

/**
 * Thin typed client of the Firecracker API on its Unix socket: one method per endpoint, no VMM
 * logic (ordering, state, retries belong to the driver).
 */
export class FirecrackerApiClient {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 30_000,
  ) {}

  describeInstance(): Promise<InstanceInfo> {
    return this.call<InstanceInfo>("GET", "/");
  }

  version(): Promise<FirecrackerVersion> {
    return this.call<FirecrackerVersion>("GET", "/version");
  }

  putMachineConfig(body: MachineConfiguration): Promise<void> {
    return this.call("PUT", "/machine-config", body);
  }

  putBootSource(body: BootSource): Promise<void> {
    return this.call("PUT", "/boot-source", body);
  }

  putDrive(body: Drive): Promise<void> {
    return this.call("PUT", `/drives/${encodeURIComponent(body.drive_id)}`, body);
  }

  putNetworkInterface(body: NetworkInterface): Promise<void> {
    return this.call("PUT", `/network-interfaces/${encodeURIComponent(body.iface_id)}`, body);
  }

  instanceStart(): Promise<void> {
    return this.call("PUT", "/actions", { action_type: "InstanceStart" });
  }

  patchVm(body: VmState): Promise<void> {
    return this.call("PATCH", "/vm", body);
  }

  createSnapshot(body: SnapshotCreateParams): Promise<void> {
    return this.call("PUT", "/snapshot/create", body);
  }

  loadSnapshot(body: SnapshotLoadParams): Promise<void> {
    return this.call("PUT", "/snapshot/load", body);
  }

  private call<T = void>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: {
            Accept: "application/json",
            ...(payload === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }),
          },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve((text.length > 0 ? JSON.parse(text) : undefined) as T);
              return;
            }
            reject(new FirecrackerApiError(method, path, status, faultMessageOf(text)));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`Firecracker ${method} ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function faultMessageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { fault_message?: unknown };
    if (typeof parsed.fault_message === "string") return parsed.fault_message;
  } catch {
    // Not JSON: fall through and show the raw body.
  }
  return text.trim() || "(empty error body)";
}
