import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";

// Which CRI containers stand for function instances. Persisted after every change so a restart of
// the proxy (or of containerd under it) does not lose track of running instances.

export interface FunctionContainerRecord {
  containerId: string;
  podSandboxId: string;
  instanceId: string;
  revision: string;
  image: string;
  /** Address handed to the pod's queue-proxy. */
  host: string;
  port: number;
}

interface StoreFile {
  version: 1;
  containers: FunctionContainerRecord[];
}

export class FunctionContainerStore {
  private readonly records = new Map<string, FunctionContainerRecord>();
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
    if (text !== undefined) {
      const parsed = JSON.parse(text) as StoreFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.containers)) {
        throw new Error(`${path}: not a function container state file (version ${String(parsed.version)})`);
      }
      for (const r of parsed.containers) store.records.set(r.containerId, r);
    }
    return store;
  }

  get(containerId: string): FunctionContainerRecord | undefined {
    return this.records.get(containerId);
  }

  byPod(podSandboxId: string): FunctionContainerRecord | undefined {
    for (const r of this.records.values()) if (r.podSandboxId === podSandboxId) return r;
    return undefined;
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

  /** Writes are queued so the file always holds one complete, latest state. */
  private persist(): Promise<void> {
    const body = JSON.stringify({ version: 1, containers: this.all() } satisfies StoreFile, null, 2);
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
