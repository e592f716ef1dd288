import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { USER_CONTAINER } from "./function-containers.js";

// Which CRI containers stand for function instances, and where each function pod's relay listens.
// Persisted after every change so a restart of the node runtime (or of containerd under it) loses
// track neither of running instances nor of the addresses queue-proxies were given.

export interface FunctionExitRecord {
  exitCode: number;
  reason: string;
  message: string;
  /** Unix nanoseconds, as a decimal string (beyond a double's precision). */
  finishedAtNs: string;
}

export interface FunctionContainerRecord {
  containerId: string;
  podSandboxId: string;
  containerName: string;
  instanceId: string;
  revision: string;
  image: string;
  /** Set once the instance is seen dead; what kubelet is told about the container from then on. */
  exit?: FunctionExitRecord;
  /** Stopped through the CRI (StopContainer, StopPodSandbox): containerd's status of the stub holds. */
  stopped?: boolean;
}

/** One relay per pod and function container name; its address outlives restarts of the container. */
export interface RelayRecord {
  podSandboxId: string;
  containerName: string;
  host: string;
  port: number;
  /** The pod's IPs, the only peers let through; absent for hostNetwork pods. */
  allowedPeers?: string[];
}

interface StoreFile {
  version: 2;
  containers: FunctionContainerRecord[];
  relays: RelayRecord[];
}

/** Version 1 (before relays were per pod) had no relays and no container names. */
interface StoreFileV1 {
  version: 1;
  containers: Omit<FunctionContainerRecord, "containerName">[];
}

const relayKey = (podSandboxId: string, containerName: string) => `${podSandboxId}/${containerName}`;

export class FunctionContainerStore {
  private readonly records = new Map<string, FunctionContainerRecord>();
  private readonly relayRecords = new Map<string, RelayRecord>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static async open(path: string): Promise<FunctionContainerStore> {
    const store = new FunctionContainerStore(path);
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (text === undefined) return store;
    const parsed = JSON.parse(text) as StoreFile | StoreFileV1;
    if ((parsed.version !== 1 && parsed.version !== 2) || !Array.isArray(parsed.containers)) {
      throw new Error(`${path}: not a function container state file (version ${String((parsed as { version: unknown }).version)})`);
    }
    for (const r of parsed.containers) {
      store.records.set(r.containerId, { containerName: USER_CONTAINER, ...r });
    }
    if (parsed.version === 2) {
      if (!Array.isArray(parsed.relays)) throw new Error(`${path}: relays is not a list`);
      for (const r of parsed.relays) store.relayRecords.set(relayKey(r.podSandboxId, r.containerName), r);
    }
    return store;
  }

  get(containerId: string): FunctionContainerRecord | undefined {
    return this.records.get(containerId);
  }

  ofPod(podSandboxId: string): FunctionContainerRecord[] {
    return this.all().filter((r) => r.podSandboxId === podSandboxId);
  }

  all(): FunctionContainerRecord[] {
    return [...this.records.values()];
  }

  async put(r: FunctionContainerRecord): Promise<void> {
    this.records.set(r.containerId, r);
    await this.persist();
  }

  async delete(containerId: string): Promise<void> {
    if (this.records.delete(containerId)) await this.persist();
  }

  relay(podSandboxId: string, containerName: string): RelayRecord | undefined {
    return this.relayRecords.get(relayKey(podSandboxId, containerName));
  }

  relaysOf(podSandboxId: string): RelayRecord[] {
    return this.relays().filter((r) => r.podSandboxId === podSandboxId);
  }

  relays(): RelayRecord[] {
    return [...this.relayRecords.values()];
  }

  async putRelay(r: RelayRecord): Promise<void> {
    this.relayRecords.set(relayKey(r.podSandboxId, r.containerName), r);
    await this.persist();
  }

  /** Forgets a pod's function containers and relays at once. */
  async deletePod(podSandboxId: string): Promise<void> {
    let changed = false;
    for (const r of this.ofPod(podSandboxId)) changed = this.records.delete(r.containerId) || changed;
    for (const r of this.relaysOf(podSandboxId)) changed = this.relayRecords.delete(relayKey(r.podSandboxId, r.containerName)) || changed;
    if (changed) await this.persist();
  }

  /** Writes are queued so the file always holds one complete, latest state. */
  private persist(): Promise<void> {
    const body = JSON.stringify({ version: 2, containers: this.all(), relays: this.relays() } satisfies StoreFile, null, 2);
    // A failed write must not block later ones: each write carries the whole state.
    const next = this.writes.catch(() => undefined).then(() => writeAtomically(this.path, body));
    this.writes = next;
    return next;
  }
}

async function writeAtomically(path: string, body: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
