// A typed, promise-based client for the parts of containerd's gRPC API the driver uses, over its
// Unix socket, with every call scoped to one containerd namespace.
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "protos");

export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export interface Any {
  type_url: string;
  value: Buffer;
}

export interface ContainerRecord {
  id: string;
  labels?: Record<string, string>;
  image?: string;
  runtime: { name: string; options?: Any | null };
  spec: Any;
  snapshotter: string;
  snapshot_key: string;
}

export interface ProcessRecord {
  container_id: string;
  id: string;
  pid: number;
  status: "UNKNOWN" | "CREATED" | "RUNNING" | "STOPPED" | "PAUSED" | "PAUSING";
  exit_status: number;
}

export interface SnapshotInfo {
  name: string;
  parent: string;
  kind: "UNKNOWN" | "VIEW" | "ACTIVE" | "COMMITTED";
  labels: Record<string, string>;
}

type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<unknown>) => grpc.ClientUnaryCall;

let packageDefinition: grpc.GrpcObject | undefined;

function loadApi(): grpc.GrpcObject {
  packageDefinition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(["tasks.proto", "containers.proto", "snapshots.proto", "images.proto"], {
      includeDirs: [PROTO_DIR],
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  );
  return packageDefinition;
}

function service(api: grpc.GrpcObject, dotted: string): grpc.ServiceClientConstructor {
  let node: unknown = api;
  for (const part of dotted.split(".")) node = (node as Record<string, unknown>)[part];
  return node as grpc.ServiceClientConstructor;
}

/** gRPC status NOT_FOUND, which cleanup treats as "already gone". */
export function isNotFound(error: unknown): boolean {
  return (error as grpc.ServiceError | undefined)?.code === grpc.status.NOT_FOUND;
}

export class ContainerdClient {
  private readonly clients: Record<"tasks" | "containers" | "snapshots" | "images", grpc.Client>;
  private readonly metadata = new grpc.Metadata();

  constructor(
    readonly address: string,
    readonly namespace: string,
  ) {
    if (!/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(namespace)) throw new Error(`containerd namespace "${namespace}" is not a valid namespace name`);
    const api = loadApi();
    const target = `unix://${address}`;
    const credentials = grpc.credentials.createInsecure();
    // One channel shared by the four services.
    const tasks = new (service(api, "containerd.services.tasks.v1.Tasks"))(target, credentials);
    const channelOverride = { channelOverride: tasks.getChannel() };
    this.clients = {
      tasks,
      containers: new (service(api, "containerd.services.containers.v1.Containers"))(target, credentials, channelOverride),
      snapshots: new (service(api, "containerd.services.snapshots.v1.Snapshots"))(target, credentials, channelOverride),
      images: new (service(api, "containerd.services.images.v1.Images"))(target, credentials, channelOverride),
    };
    this.metadata.set("containerd-namespace", namespace);
  }

  private call<T>(which: keyof ContainerdClient["clients"], method: string, request: object, timeoutMs = 30_000): Promise<T> {
    const client = this.clients[which] as unknown as Record<string, UnaryMethod>;
    const fn = client[method];
    if (!fn) throw new Error(`containerd client has no method ${which}.${method}`);
    const options: grpc.CallOptions = timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
    return new Promise<T>((resolve, reject) => {
      fn.call(client, request, this.metadata, options, (error, value) => {
        if (error) {
          const wrapped = new Error(`containerd ${which}.${method} at ${this.address}: ${error.details || error.message}`) as Error & { code?: number };
          wrapped.code = error.code;
          reject(wrapped);
        } else resolve(value as T);
      });
    });
  }

  getImage(name: string): Promise<{ image: { name: string; target: { digest: string; media_type: string } } }> {
    return this.call("images", "Get", { name });
  }

  statSnapshot(snapshotter: string, key: string): Promise<{ info: SnapshotInfo }> {
    return this.call("snapshots", "Stat", { snapshotter, key });
  }

  prepareSnapshot(snapshotter: string, key: string, parent: string, labels: Record<string, string>): Promise<{ mounts: Mount[] }> {
    return this.call("snapshots", "Prepare", { snapshotter, key, parent, labels });
  }

  removeSnapshot(snapshotter: string, key: string): Promise<void> {
    return this.call("snapshots", "Remove", { snapshotter, key });
  }

  listSnapshots(snapshotter: string): Promise<SnapshotInfo[]> {
    const client = this.clients.snapshots as unknown as Record<string, (req: object, md: grpc.Metadata) => grpc.ClientReadableStream<{ info: SnapshotInfo[] }>>;
    return new Promise((resolve, reject) => {
      const found: SnapshotInfo[] = [];
      const stream = client.List!.call(client, { snapshotter, filters: [] }, this.metadata);
      stream.on("data", (page: { info: SnapshotInfo[] }) => found.push(...page.info));
      stream.on("error", (error: Error) => reject(new Error(`containerd snapshots.List at ${this.address}: ${error.message}`)));
      stream.on("end", () => resolve(found));
    });
  }

  createContainer(container: ContainerRecord): Promise<{ container: ContainerRecord }> {
    return this.call("containers", "Create", { container });
  }

  getContainer(id: string): Promise<{ container: ContainerRecord }> {
    return this.call("containers", "Get", { id });
  }

  deleteContainer(id: string): Promise<void> {
    return this.call("containers", "Delete", { id });
  }

  listContainers(): Promise<{ containers: ContainerRecord[] }> {
    return this.call("containers", "List", { filters: [] });
  }

  createTask(request: { container_id: string; rootfs: Mount[]; stdout: string; stderr: string }): Promise<{ container_id: string; pid: number }> {
    return this.call("tasks", "Create", { ...request, stdin: "", terminal: false });
  }

  startTask(containerId: string): Promise<{ pid: number }> {
    return this.call("tasks", "Start", { container_id: containerId, exec_id: "" });
  }

  /** Resolves when the task exits; no deadline. */
  waitTask(containerId: string): Promise<{ exit_status: number }> {
    return this.call("tasks", "Wait", { container_id: containerId, exec_id: "" }, 0);
  }

  killTask(containerId: string, signal: number, all = false): Promise<void> {
    return this.call("tasks", "Kill", { container_id: containerId, exec_id: "", signal, all });
  }

  deleteTask(containerId: string): Promise<{ exit_status: number }> {
    return this.call("tasks", "Delete", { container_id: containerId });
  }

  getTask(containerId: string): Promise<{ process: ProcessRecord }> {
    return this.call("tasks", "Get", { container_id: containerId, exec_id: "" });
  }

  listTasks(): Promise<{ tasks: ProcessRecord[] }> {
    return this.call("tasks", "List", { filter: "" });
  }

  pauseTask(containerId: string): Promise<void> {
    return this.call("tasks", "Pause", { container_id: containerId });
  }

  resumeTask(containerId: string): Promise<void> {
    return this.call("tasks", "Resume", { container_id: containerId });
  }

  listPids(containerId: string): Promise<{ processes: { pid: number }[] }> {
    return this.call("tasks", "ListPids", { container_id: containerId });
  }

  close(): void {
    for (const client of Object.values(this.clients)) client.close();
  }
}
