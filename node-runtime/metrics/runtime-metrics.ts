import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ColdStartRecord } from "./cold-start-record.js";
import { vhiveCsv, type VhiveCsvRow } from "./vhive-csv.js";

// 100 µs … ~52 s in ×2 steps: covers a warm connect as well as a slow container boot.
const STAGE_BUCKETS_US = Array.from({ length: 20 }, (_, i) => 100 * 2 ** i);

/**
 * The runtime's metrics: per-stage cold-start histograms by sandbox and start kind, sandbox RSS,
 * snapshot store events. Its own prom-client registry, so several runtimes in one process (tests)
 * never share counters. Keeps the latest cold starts for the vHive CSV.
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly stageHistogram: Histogram<"stage" | "sandbox" | "start_kind">;
  private readonly rssHistogram: Histogram<"sandbox" | "start_kind">;
  private readonly rssGauge: Gauge<"instance" | "revision" | "sandbox">;
  private readonly snapshotEvents: Counter<"event">;
  private readonly instancesGauge: Gauge<"sandbox" | "state">;
  private readonly recent: ColdStartRecord[] = [];

  constructor(private readonly keepRecords = 10_000) {
    this.stageHistogram = new Histogram({
      name: "node_runtime_cold_start_stage_microseconds",
      help: "Duration of each cold-start stage (vHive stage names), microseconds",
      labelNames: ["stage", "sandbox", "start_kind"],
      buckets: STAGE_BUCKETS_US,
      registers: [this.registry],
    });
    this.rssHistogram = new Histogram({
      name: "node_runtime_cold_start_rss_bytes",
      help: "Resident memory of the sandbox (VMM or sandbox process tree) after its first invocation, bytes",
      labelNames: ["sandbox", "start_kind"],
      buckets: Array.from({ length: 14 }, (_, i) => 2 ** (20 + i)), // 1 MiB … 8 GiB
      registers: [this.registry],
    });
    this.rssGauge = new Gauge({
      name: "node_runtime_sandbox_rss_bytes",
      help: "Latest resident memory of a running sandbox, bytes",
      labelNames: ["instance", "revision", "sandbox"],
      registers: [this.registry],
    });
    this.snapshotEvents = new Counter({
      name: "node_runtime_snapshot_events_total",
      help: "Snapshot store events: committed, evicted (LRU), discarded (corrupt or over budget)",
      labelNames: ["event"],
      registers: [this.registry],
    });
    this.instancesGauge = new Gauge({
      name: "node_runtime_instances",
      help: "Function instances known to the orchestrator, by sandbox and state",
      labelNames: ["sandbox", "state"],
      registers: [this.registry],
    });
  }

  recordColdStart(rec: ColdStartRecord): void {
    for (const [stage, us] of Object.entries(rec.stages)) {
      if (us === undefined) continue;
      this.stageHistogram.observe({ stage, sandbox: rec.sandbox, start_kind: rec.startKind }, us);
    }
    if (rec.rssBytes !== undefined) this.rssHistogram.observe({ sandbox: rec.sandbox, start_kind: rec.startKind }, rec.rssBytes);
    this.recent.push(rec);
    if (this.recent.length > this.keepRecords) this.recent.shift();
  }

  setRss(instance: string, revision: string, sandbox: string, bytes: number): void {
    this.rssGauge.set({ instance, revision, sandbox }, bytes);
  }

  forgetInstance(instance: string, revision: string, sandbox: string): void {
    this.rssGauge.remove({ instance, revision, sandbox });
  }

  snapshotEvent(event: string): void {
    this.snapshotEvents.inc({ event });
  }

  setInstanceCounts(counts: { sandbox: string; state: string; count: number }[]): void {
    this.instancesGauge.reset();
    for (const c of counts) this.instancesGauge.set({ sandbox: c.sandbox, state: c.state }, c.count);
  }

  coldStarts(): ColdStartRecord[] {
    return [...this.recent];
  }

  prometheusText(): Promise<string> {
    return this.registry.metrics();
  }

  get prometheusContentType(): string {
    return this.registry.contentType;
  }

  /** vHive bench CSV, one row per revision, sandbox and start kind (FuncName `revision/sandbox/kind`). */
  csv(): string {
    const groups = new Map<string, VhiveCsvRow>();
    for (const r of this.recent) {
      const key = `${r.revision}/${r.sandbox}/${r.startKind}`;
      const row = groups.get(key) ?? { funcName: key, samples: [] };
      row.samples.push(r.stages);
      groups.set(key, row);
    }
    return vhiveCsv([...groups.values()]);
  }
}
