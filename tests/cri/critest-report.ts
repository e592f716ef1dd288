// Reads critest's ginkgo JSON report (--ginkgo.json-report) and compares two runs spec by spec.

export interface CritestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

interface SpecReport {
  ContainerHierarchyTexts?: string[] | null;
  LeafNodeText?: string;
  LeafNodeType?: string;
  State?: string;
}

/** Each spec's outcome ("passed", "failed", "skipped", …) by its full name (containers, then the spec). */
export function critestOutcomes(report: unknown): Map<string, string> {
  if (!Array.isArray(report)) throw new Error("critest report: expected a JSON array of suite reports");
  const outcomes = new Map<string, string>();
  for (const suite of report as { SpecReports?: SpecReport[] | null }[]) {
    for (const spec of suite.SpecReports ?? []) {
      if (spec.LeafNodeType !== "It") continue; // suite set-up and tear-down nodes are not specs
      const name = [...(spec.ContainerHierarchyTexts ?? []), spec.LeafNodeText ?? ""].join(" ");
      outcomes.set(name, spec.State ?? "unknown");
    }
  }
  return outcomes;
}

/** A run's counts; every failure kind (failed, panicked, timed out, interrupted, aborted) counts as failed. */
export function countOutcomes(outcomes: Map<string, string>): CritestCounts {
  const counts: CritestCounts = { passed: 0, failed: 0, skipped: 0 };
  for (const state of outcomes.values()) {
    if (state === "passed") counts.passed++;
    else if (state === "skipped" || state === "pending") counts.skipped++;
    else counts.failed++;
  }
  return counts;
}

export interface RunComparison {
  direct: CritestCounts;
  proxy: CritestCounts;
  /** Specs whose outcome differs (or that ran in one run only), as "name: direct -> proxy". */
  differences: string[];
  /** Specs that failed in both runs. */
  failedBothWays: string[];
}

export function compareRuns(direct: Map<string, string>, proxy: Map<string, string>): RunComparison {
  const differences: string[] = [];
  const failedBothWays: string[] = [];
  const failed = (state: string) => !["passed", "skipped", "pending", "absent"].includes(state);
  for (const name of new Set([...direct.keys(), ...proxy.keys()])) {
    const [d, p] = [direct.get(name) ?? "absent", proxy.get(name) ?? "absent"];
    if (d !== p) differences.push(`${name}: ${d} -> ${p}`);
    else if (failed(d)) failedBothWays.push(name);
  }
  return { direct: countOutcomes(direct), proxy: countOutcomes(proxy), differences: differences.sort(), failedBothWays: failedBothWays.sort() };
}
