import { describe, expect, it } from "vitest";
import { percentile, summarize } from "./latency-summary.js";

describe("summarize", () => {
  it("gives the mean and nearest-rank p50/p99", () => {
    expect(summarize([5, 1, 3, 2, 4])).toEqual({ mean: 3, p50: 3, p99: 5, n: 5 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 50)).toBe(50);
    expect(summarize([]).n).toBe(0);
  });
});
