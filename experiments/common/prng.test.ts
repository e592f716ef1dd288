import { describe, expect, it } from "vitest";
import { Prng } from "./prng.js";

describe("Prng", () => {
  it("is deterministic per seed and differs between seeds", () => {
    const a = new Prng(42),
      b = new Prng(42),
      c = new Prng(43);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it("gives uniform [0,1) values with the right mean, variance and spread over deciles", () => {
    const p = new Prng(7);
    const n = 200_000;
    const bins = new Array<number>(10).fill(0);
    let sum = 0,
      sq = 0,
      outside = 0;
    for (let i = 0; i < n; i++) {
      const u = p.next();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
      sq += u * u;
      bins[Math.floor(u * 10)]!++;
    }
    expect(outside).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(sq / n - (sum / n) ** 2).toBeCloseTo(1 / 12, 2);
    // Chi-square with 9 degrees of freedom: 27.9 is its 0.999 quantile.
    const chi = bins.reduce((a, o) => a + (o - n / 10) ** 2 / (n / 10), 0);
    expect(chi).toBeLessThan(27.9);
  });

  it("draws exponentials with the asked mean and integers in range", () => {
    const p = new Prng(3);
    let s = 0;
    for (let i = 0; i < 100_000; i++) s += p.exponential(2.5);
    expect(s / 100_000).toBeGreaterThan(2.45);
    expect(s / 100_000).toBeLessThan(2.55);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(p.int(7));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(() => p.int(0)).toThrow(/positive integer/);
    expect(() => new Prng(NaN)).toThrow(/finite/);
  });
});
