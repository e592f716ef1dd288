// Where the loader's invocations go: Knative functions listed in endpoints.json, or revisions of
// the node runtime, which the loader starts on demand and stops when idle (scale to zero).
import type * as grpc from "@grpc/grpc-js";
import { ApiClient } from "#node-runtime/api/api-client.js";
import type { Endpoint } from "../invoker/endpoints.js";
import { grpcFailure, GrpcTarget } from "../targets/grpc-target.js";
import type { Failure } from "../targets/target.js";
import type { TraceFunction } from "../trace/azure-trace.js";

export interface Outcome {
  failure: Failure | null;
  reply: string;
  /** Time before the request could be sent: connecting, or waiting for an instance to start (µs). */
  connectUs: number;
  /** Whether the invocation met a cold instance, when the backend knows. */
  coldStart: boolean | null;
}

export interface ColdStarts {
  /** Cold starts per replay minute by kind (boot, restore), from the node runtime's metrics. */
  perMinute: { minute: number; boot: number; restore: number }[];
  total: number;
  /** Instances the loader started, for comparison. */
  instancesStarted: number;
}

export interface LoaderBackend {
  readonly kind: "knative" | "node-runtime";
  /** One label per sampled function (endpoint or revision). */
  prepare(fns: TraceFunction[]): Promise<string[]>;
  invoke(fn: number, payload: string, deadlineMs: number, done: (o: Outcome) => void): void;
  coldStarts(runStartWallMs: number, minuteMs: number, minutes: number): Promise<ColdStarts | null>;
  close(): Promise<void>;
}

/** Function i goes to endpoint i mod n (deploy one Knative Service per sampled function for a faithful replay). */
export class KnativeBackend implements LoaderBackend {
  readonly kind = "knative" as const;
  private targets: GrpcTarget[] = [];

  constructor(
    private readonly endpoints: Endpoint[],
    private readonly opts: { port: number; connect?: string; perRequestConnection?: boolean },
  ) {}

  async prepare(fns: TraceFunction[]): Promise<string[]> {
    this.targets = this.endpoints.map(
      (e) => new GrpcTarget({ address: `${e.hostname}:${this.opts.port}`, connect: this.opts.connect, perRequestConnection: this.opts.perRequestConnection }),
    );
    return fns.map((_, i) => this.targets[i % this.targets.length]!.label);
  }

  invoke(fn: number, payload: string, deadlineMs: number, done: (o: Outcome) => void): void {
    this.targets[fn % this.targets.length]!.invoke(payload, deadlineMs, (failure, reply, connectNs) =>
      done({ failure, reply, connectUs: (connectNs ?? 0) / 1e3, coldStart: null }),
    );
  }

  async coldStarts(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {
    for (const t of this.targets) t.close();
  }
}

interface Instance {
  id: string;
  ready: Promise<void>;
  isReady: boolean;
  inFlight: number;
  idleTimer?: NodeJS.Timeout;
}

type RuntimeClient = grpc.Client & Record<string, (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void>;

export interface NodeRuntimeBackendOptions {
  /** unix:/path or host:port of the node runtime's API. */
  api: string;
  /** Image reference or digest, loaded in the node runtime's image store. */
  image: string;
  sandbox?: string;
  snapshotMode?: string;
  memoryMiB?: number;
  /** Stop an instance this long after its last invocation ended (scale to zero). */
  keepAliveMs: number;
  /** Deadline of StartInstance. */
  startTimeoutMs?: number;
  /** Prefix of revision and instance ids; a fresh one per run keeps runs apart. */
  runId: string;
}

/**
 * One revision per sampled function. An invocation with no instance of its revision starts one
 * (StartInstance: a boot, or a restore once the revision has a snapshot) and waits for it; later
 * ones reuse it; an instance idle for keepAliveMs is stopped (its first teardown snapshots).
 */
export class NodeRuntimeBackend implements LoaderBackend {
  readonly kind = "node-runtime" as const;
  private readonly api: ApiClient;
  private revisions: string[] = [];
  private readonly live = new Map<number, Instance>();
  private readonly stopping = new Set<Promise<unknown>>();
  private seq = 0;
  started = 0;

  constructor(private readonly opts: NodeRuntimeBackendOptions) {
    this.api = new ApiClient(opts.api, opts.startTimeoutMs ?? 120_000);
  }

  private get client(): RuntimeClient {
    return this.api.runtime as RuntimeClient;
  }

  async prepare(fns: TraceFunction[]): Promise<string[]> {
    try {
      await this.api.runtimeCall("ListInstances");
    } catch (err) {
      const f = grpcFailure(err as grpc.ServiceError);
      throw new Error(`node runtime at ${this.opts.api} does not answer: ${f.code}: ${f.message} (is \`npm run node-runtime -- serve\` running there?)`);
    }
    this.revisions = fns.map((f, i) => `tr-${this.opts.runId}-${i}-${f.function.replace(/[^A-Za-z0-9]/g, "").slice(0, 8) || "fn"}`);
    return this.revisions;
  }

  private startInstance(fn: number): Instance {
    const id = `${this.revisions[fn]}-${++this.seq}`;
    const inst: Instance = { id, ready: Promise.resolve(), isReady: false, inFlight: 0 };
    this.started++;
    inst.ready = this.api
      .runtimeCall("StartInstance", {
        instance_id: id,
        revision: this.revisions[fn],
        image: this.opts.image,
        sandbox: this.opts.sandbox ?? "",
        snapshot_mode: this.opts.snapshotMode ?? "",
        memory_mib: this.opts.memoryMiB ?? 0,
      })
      .then(
        () => {
          inst.isReady = true;
        },
        (err: grpc.ServiceError) => {
          if (this.live.get(fn) === inst) this.live.delete(fn);
          const f = grpcFailure(err);
          throw Object.assign(new Error(f.message), { failure: { code: f.code, message: `starting ${id} failed: ${f.message}` } });
        },
      );
    return inst;
  }

  invoke(fn: number, payload: string, deadlineMs: number, done: (o: Outcome) => void): void {
    let inst = this.live.get(fn);
    if (!inst) {
      inst = this.startInstance(fn);
      this.live.set(fn, inst);
    }
    const it = inst;
    it.inFlight++;
    if (it.idleTimer) {
      clearTimeout(it.idleTimer);
      it.idleTimer = undefined;
    }
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + deadlineMs;
    const finish = (o: Outcome) => {
      if (--it.inFlight === 0 && this.live.get(fn) === it) it.idleTimer = setTimeout(() => this.retire(fn, it), this.opts.keepAliveMs);
      done(o);
    };
    const call = (connectUs: number) =>
      this.client.Invoke!({ instance_id: it.id, name: payload }, { deadline }, (err, reply) => {
        if (err) finish({ failure: grpcFailure(err), reply: "", connectUs, coldStart: null });
        else {
          const res = reply as { message: string; cold_start: boolean };
          finish({ failure: null, reply: res.message, connectUs, coldStart: res.cold_start });
        }
      });
    if (it.isReady) call(0);
    else
      it.ready.then(
        () => call(Number(process.hrtime.bigint() - t0) / 1e3),
        (err: { failure: Failure }) => finish({ failure: err.failure, reply: "", connectUs: Number(process.hrtime.bigint() - t0) / 1e3, coldStart: null }),
      );
  }

  private retire(fn: number, inst: Instance): void {
    if (this.live.get(fn) !== inst || inst.inFlight > 0) return;
    this.live.delete(fn);
    const p = this.api.runtimeCall("StopInstance", { instance_id: inst.id }).catch(() => undefined);
    this.stopping.add(p);
    void p.finally(() => this.stopping.delete(p));
  }

  async coldStarts(runStartWallMs: number, minuteMs: number, minutes: number): Promise<ColdStarts> {
    const m = await this.api.runtimeCall<{ cold_starts: { revision: string; start_kind: string; at: string }[] }>("GetMetrics");
    const mine = new Set(this.revisions);
    const perMinute = Array.from({ length: minutes }, (_, minute) => ({ minute, boot: 0, restore: 0 }));
    let total = 0;
    for (const c of m.cold_starts) {
      if (!mine.has(c.revision)) continue;
      total++;
      const minute = Math.min(minutes - 1, Math.max(0, Math.floor((Date.parse(c.at) - runStartWallMs) / minuteMs)));
      if (c.start_kind === "restore") perMinute[minute]!.restore++;
      else perMinute[minute]!.boot++;
    }
    return { perMinute, total, instancesStarted: this.started };
  }

  async close(): Promise<void> {
    for (const inst of this.live.values()) if (inst.idleTimer) clearTimeout(inst.idleTimer);
    const stops = [...this.live.values()].map((inst) =>
      inst.ready
        .then(
          () => this.api.runtimeCall("StopInstance", { instance_id: inst.id }),
          () => undefined,
        )
        .catch(() => undefined),
    );
    this.live.clear();
    await Promise.all([...stops, ...this.stopping]);
    this.api.close();
  }
}
