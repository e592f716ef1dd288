// Doctor's report as a plain-text table: one line per check, remedies under the table.
import { sanitize } from "./sanitize.js";
import type { CheckResult } from "./types.js";

const MARK = { pass: "pass", warn: "WARN", fail: "FAIL" } as const;

export function formatTable(results: readonly CheckResult[]): string {
  const header = ["HOST", "CHECK", "RESULT", "DETAIL"];
  // Details carry what hosts printed (OS names, versions, device names): printed sanitised.
  const rows = results.map((r) => [sanitize(r.host, 63), sanitize(r.check, 60), MARK[r.verdict], sanitize(r.detail)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const out = [line(header), ...rows.map(line)];
  const remedies = results.filter((r) => r.remedy);
  if (remedies.length > 0) {
    out.push("", "What to do:");
    for (const r of remedies) out.push(`  ${sanitize(r.host, 63)} / ${sanitize(r.check, 60)}: ${sanitize(r.remedy!, 400)}`);
  }
  const count = (v: CheckResult["verdict"]) => results.filter((r) => r.verdict === v).length;
  out.push("", `${count("pass")} pass, ${count("warn")} warn, ${count("fail")} fail`);
  return out.join("\n");
}

export function exitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.verdict === "fail") ? 1 : 0;
}
