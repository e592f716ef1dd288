import { describe, expect, it } from "vitest";
import { goFixed2, vswarmLatencyCsv, vswarmLatencyFileName } from "./vswarm-format.js";

describe("vSwarm's latency file", () => {
  it("names the file rps<real RPS as Go's %.2f>_<latf>", () => {
    expect(vswarmLatencyFileName(1)).toBe("rps1.00_lat.csv");
    expect(vswarmLatencyFileName(1999.98123, "x.csv")).toBe("rps1999.98_x.csv");
    expect(vswarmLatencyFileName(9 / 8)).toBe("rps1.12_lat.csv");
  });

  it("rounds exact ties to even like Go, and everything else like toFixed", () => {
    // Exact binary ties: Go rounds half to even.
    expect(goFixed2(1.125)).toBe("1.12");
    expect(goFixed2(1.375)).toBe("1.38");
    expect(goFixed2(0.625)).toBe("0.62");
    expect(goFixed2(-1.125)).toBe("-1.12");
    expect(goFixed2(2.5)).toBe("2.50");
    // Not exact ties (the double is below or above): ordinary rounding.
    expect(goFixed2(2.675)).toBe("2.67");
    expect(goFixed2(1.005)).toBe("1.00");
    expect(goFixed2(0.015625 + 1e-9)).toBe("0.02");
    expect(goFixed2(199.995)).toBe((199.995).toFixed(2));
    expect(goFixed2(0)).toBe("0.00");
  });

  it("writes one integer microsecond count per line, truncated, no header, trailing newline", () => {
    const bytes = Buffer.from(vswarmLatencyCsv([1234.9, 5, 0.4, 1e6 + 0.999]));
    expect(bytes.toString("latin1")).toBe("1234\n5\n0\n1000000\n");
    expect(vswarmLatencyCsv([])).toBe("");
  });
});
