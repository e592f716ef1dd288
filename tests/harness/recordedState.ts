// What `pulumi destroy` would find in the state after real runs: every executed remote command
// with its delete script, and what depends on what. Destroy deletes a resource only after every
// recorded resource that depends on it is gone, so independent hosts are torn down in parallel.
import { runRemote, type SshTarget } from "./sshSession.js";
import { runLocal, type ResourceRecord } from "./realRun.js";

export interface DestroyResult {
  readonly deleted: { name: string; host?: string; stdout: string }[];
  readonly failures: string[];
  readonly elapsedMs: number;
}

export class RecordedState {
  private readonly entries = new Map<string, { record: ResourceRecord; key?: string }>();

  /** Adds a run's executed resources; a later run's record of the same URN replaces the earlier. */
  add(records: readonly ResourceRecord[], keys: ReadonlyMap<string, string>): void {
    for (const record of records) {
      if (record.status !== "executed") continue;
      const key = keys.get(record.urn);
      this.entries.set(record.urn, { record, ...(key ? { key } : {}) });
    }
  }

  merge(other: RecordedState): void {
    for (const [urn, entry] of other.entries) this.entries.set(urn, entry);
  }

  names(): string[] {
    return [...this.entries.values()].map((e) => e.record.name);
  }

  /** Runs the delete scripts in reverse dependency order. */
  async destroy(log?: (line: string) => void): Promise<DestroyResult> {
    const started = Date.now();
    const remaining = new Map(this.entries);
    const deleted: DestroyResult["deleted"] = [];
    const failures: string[] = [];
    const dependents = (urn: string) => [...remaining.values()].filter((e) => e.record.dependencies.includes(urn));
    while (remaining.size > 0) {
      const ready = [...remaining.entries()].filter(([urn]) => dependents(urn).length === 0);
      if (ready.length === 0) {
        failures.push(`dependency cycle among ${[...remaining.keys()].join(", ")}`);
        break;
      }
      const results = await Promise.all(
        ready.map(async ([urn, { record, key }]) => {
          if (record.deleteScript && record.type === "command:local:Command") {
            const local = await runLocal(record.deleteScript, record.interpreter ?? []);
            if (local.code !== 0) return { urn, ok: false as const, error: `local command ${record.name} (delete): exit status ${local.code}\n${local.stderr.trimEnd()}` };
            log?.(`[local] ${record.name}: deleted`);
            deleted.push({ name: record.name, stdout: local.stdout });
            return { urn, ok: true as const };
          }
          if (!record.deleteScript || !record.target || !key) return { urn, ok: true as const };
          const target: SshTarget = { ...record.target, privateKey: key };
          try {
            const result = await runRemote(target, record.deleteScript);
            if (result.code !== 0)
              return { urn, ok: false as const, error: `host ${record.host}, step ${record.step} (delete): exit status ${result.code}\n${result.stderr.trimEnd()}` };
            log?.(`[${record.host}] ${record.step}: deleted`);
            deleted.push({ name: record.name, ...(record.host ? { host: record.host } : {}), stdout: result.stdout });
            return { urn, ok: true as const };
          } catch (error) {
            return { urn, ok: false as const, error: `host ${record.host}, step ${record.step} (delete): ${(error as Error).message}` };
          }
        }),
      );
      let progressed = false;
      for (const r of results) {
        if (r.ok) {
          remaining.delete(r.urn);
          progressed = true;
        } else failures.push(r.error);
      }
      // Like Pulumi, stop at a failed delete: what it depends on must not go first.
      if (!progressed || failures.length > 0) break;
    }
    for (const urn of remaining.keys()) if (!failures.length) failures.push(`not deleted: ${urn}`);
    if (failures.length === 0) this.entries.clear();
    else for (const d of deleted) for (const [urn, e] of this.entries) if (e.record.name === d.name) this.entries.delete(urn);
    return { deleted, failures, elapsedMs: Date.now() - started };
  }
}
