// Cold-start stages, named as vHive's bench CSV names them so results compare column for column.
export const COLD_START_STAGES = [
  "GetImage",
  "FcCreateVM",
  "NewContainer",
  "NewTask",
  "TaskWait",
  "TaskStart",
  "LoadVMM",
  "FcResume",
  "ConnectFuncClient",
  "AddInstance",
  "FuncInvocation",
  // REAP stages (record-and-prefetch snapshot loads).
  "FetchState",
  "InstallWS",
  "ServeUnique",
] as const;

export type ColdStartStage = (typeof COLD_START_STAGES)[number];

/** Durations in microseconds, one entry per stage that ran. */
export type StageDurations = Partial<Record<ColdStartStage, number>>;

/**
 * Times the stages of one cold start. Drivers and the orchestrator call `time()` around each
 * stage; a stage run twice (say, a retried connect) accumulates.
 */
export class StageTimer {
  private readonly durations: StageDurations = {};

  async time<T>(stage: ColdStartStage, work: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      this.add(stage, Number(process.hrtime.bigint() - start) / 1000);
    }
  }

  /** Records a duration measured elsewhere (for example by the native fault handler). */
  add(stage: ColdStartStage, micros: number): void {
    this.durations[stage] = (this.durations[stage] ?? 0) + micros;
  }

  snapshot(): StageDurations {
    return { ...this.durations };
  }
}
