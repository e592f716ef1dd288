import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DURATION_COLUMNS, MEMORY_COLUMNS, parseDurations, parseInvocations, parseMemory, readTrace, sampleFromPercentiles } from "./azure-trace.js";
import { generateTrace, writeGeneratedTrace } from "./generate.js";

describe("Azure Functions trace format", () => {
  it("the generator writes the dataset's columns: keys then minutes 1..1440; durations and memory headers", () => {
    const t = generateTrace({ functions: 6, minutes: 5, seed: 1 });
    const inv = t.invocations.trimEnd().split("\n");
    const header = inv[0]!.split(",");
    expect(header.slice(0, 4)).toEqual(["HashOwner", "HashApp", "HashFunction", "Trigger"]);
    expect(header.slice(4)).toEqual(Array.from({ length: 1440 }, (_, i) => String(i + 1)));
    expect(inv).toHaveLength(7);
    expect(t.durations.split("\n")[0]).toBe(DURATION_COLUMNS.join(","));
    expect(t.durations.split("\n")[0]).toBe(
      "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100",
    );
    expect(t.memory.split("\n")[0]).toBe(
      "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100",
    );
    expect(MEMORY_COLUMNS).toHaveLength(12);
    // Hashes look like the dataset's (64 hex digits); only the first 5 minutes carry invocations.
    const fns = parseInvocations(t.invocations);
    for (const f of fns) {
      expect(f.function).toMatch(/^[0-9a-f]{64}$/);
      expect(f.perMinute.slice(5).every((c) => c === 0)).toBe(true);
    }
    expect(fns.some((f) => f.perMinute.some((c) => c > 0))).toBe(true);
  });

  it("is reproducible from the seed", () => {
    expect(generateTrace({ functions: 4, minutes: 3, seed: 9 })).toEqual(generateTrace({ functions: 4, minutes: 3, seed: 9 }));
    expect(generateTrace({ functions: 4, minutes: 3, seed: 10 }).invocations).not.toBe(generateTrace({ functions: 4, minutes: 3, seed: 9 }).invocations);
  });

  it("reads the three files and joins durations per function and memory per app", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "trace-"));
    const files = await writeGeneratedTrace(dir, { functions: 5, minutes: 2, seed: 3, functionsPerApp: 2, maxDurationMs: 200, maxMemoryMb: 64 });
    expect(path.basename(files.invocations)).toBe("invocations_per_function_md.anon.d01.csv");
    const trace = await readTrace(files);
    expect(trace).toHaveLength(5);
    for (const f of trace) {
      expect(f.durations!.percentilesMs).toHaveLength(7);
      expect(Math.max(...f.durations!.percentilesMs)).toBeLessThanOrEqual(200);
      expect(f.memory!.percentilesMb).toHaveLength(8);
      expect(Math.max(...f.memory!.percentilesMb)).toBeLessThanOrEqual(64);
    }
    // Two functions per app share the app's memory row.
    expect(trace[0]!.memory).toEqual(trace[1]!.memory);
  });

  it("accepts a memory file with a HashFunction column (invitro's preprocessed traces)", () => {
    const m = parseMemory(
      "HashOwner,HashApp,HashFunction,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100\no,a,f,10,120,100,102,114,123,127,136,143,152\n",
    );
    expect(m.get("o/a")).toEqual({ sampleCount: 10, averageMb: 120, percentilesMb: [100, 102, 114, 123, 127, 136, 143, 152] });
  });

  it("says which file, line and column is wrong", () => {
    expect(() => parseInvocations("HashOwner,HashApp,Func,Trigger,1\n", "inv.csv")).toThrow('inv.csv: header column 3 should be HashFunction, is "Func"');
    expect(() => parseInvocations("HashOwner,HashApp,HashFunction,Trigger,1,3\n", "inv.csv")).toThrow('inv.csv: header column 6 should be minute 2, is "3"');
    expect(() => parseInvocations("HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1,x\n", "inv.csv")).toThrow(
      'inv.csv: line 2, column 2: expected a non-negative integer, got "x"',
    );
    expect(() => parseInvocations("HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1\n", "inv.csv")).toThrow(
      "inv.csv: line 2 has 5 fields, the header 6",
    );
    expect(() => parseDurations(`${DURATION_COLUMNS.join(",")}\no,a,f,1,1,1,1,5,4,6,7,8,9,10\n`, "d.csv")).toThrow(
      "d.csv: line 2: percentiles must not decrease",
    );
  });

  it("draws from percentiles by linear interpolation", () => {
    const pts = [0, 1, 25, 50, 75, 99, 100];
    const vals = [1, 2, 10, 20, 30, 90, 100];
    expect(sampleFromPercentiles(pts, vals, 0)).toBe(1);
    expect(sampleFromPercentiles(pts, vals, 0.5)).toBe(20);
    expect(sampleFromPercentiles(pts, vals, 0.375)).toBeCloseTo(15);
    expect(sampleFromPercentiles(pts, vals, 0.995)).toBeCloseTo(95);
  });
});
