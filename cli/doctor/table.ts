// Doctor's report as a plain-text table: one line per check, remedies under the table.
import type { CheckResult } from "./types.js";

const MARK = { pass: "pass", warn: "WARN", fail: "FAIL" } as const;

export function formatTable(results: readonly CheckResult[]): string {
  const header = ["HOST", "CHECK", "RESULT", "DETAIL"];
  const rows = results.map((r) => [r.host, r.check, MARK[r.verdict], r.detail]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const out = [line(header), ...rows.map(line)];
  const remedies = results.filter((r) => r.remedy);
  if (remedies.length > 0) {
    out.push("", "What to do:");
    for (const r of remedies) out.push(`  ${r.host} / ${r.check}: ${r.remedy}`);
  }
  const count = (v: CheckResult["verdict"]) => results.filter((r) => r.verdict === v).length;
  out.push("", `${count("pass")} pass, ${count("warn")} warn, ${count("fail")} fail`);
  return out.join("\n");
}

export function exitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.verdict === "fail") ? 1 : 0;
}
