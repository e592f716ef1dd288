import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

// What survives a restart of the runtime for each live instance: enough to find its sandbox process
// again, reach the function, and report it (the CRI front end reconciles containers against this).
export const instanceRecordSchema = z.object({
  instanceId: z.string(),
  revision: z.string(),
  image: z.string(),
  imageDigest: z.string(),
  sandbox: z.enum(["firecracker", "gvisor", "containerd"]),
  snapshotMode: z.enum(["off", "vanilla", "reap"]),
  startKind: z.enum(["boot", "restore"]),
  port: z.number().int(),
  endpoint: z.union([z.object({ kind: z.literal("tcp"), host: z.string(), port: z.number().int() }), z.object({ kind: z.literal("unix"), path: z.string() })]),
  pid: z.number().int().optional(),
  networkSlot: z.number().int().optional(),
  startedAt: z.string(),
});

export type InstanceRecord = z.infer<typeof instanceRecordSchema>;

/** One JSON file per live instance under `<dataDir>/instances/`, written atomically. */
export class InstanceStateStore {
  constructor(readonly dir: string) {}

  async save(rec: InstanceRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `${rec.instanceId}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(rec, null, 2) + "\n");
    await rename(`${file}.tmp`, file);
  }

  async remove(instanceId: string): Promise<void> {
    await rm(path.join(this.dir, `${instanceId}.json`), { force: true });
  }

  /** Records of a previous run; unreadable files are returned as errors rather than dropped silently. */
  async load(): Promise<{ records: InstanceRecord[]; unreadable: string[] }> {
    const records: InstanceRecord[] = [];
    const unreadable: string[] = [];
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return { records, unreadable };
    }
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (!name.endsWith(".json")) {
        await rm(file, { force: true });
        continue;
      }
      try {
        records.push(instanceRecordSchema.parse(JSON.parse(await readFile(file, "utf8"))));
      } catch {
        unreadable.push(name);
        await rm(file, { force: true });
      }
    }
    return { records, unreadable };
  }
}
