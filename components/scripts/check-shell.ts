// Test support for generated shell (imported by tests only): `bash -n` and `shellcheck -s bash`
// on scripts' text. Many scripts are checked with one shellcheck process, which is what keeps
// the suite fast on two cores.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ShellCheckResult {
  readonly syntax: string;
  readonly shellcheck: string;
}

export function checkShellBatch(scripts: readonly string[]): ShellCheckResult[] {
  const dir = mkdtempSync(join(tmpdir(), "vhive-h1-shellcheck-"));
  try {
    const files = scripts.map((script, i) => {
      const file = join(dir, `script-${i}.sh`);
      writeFileSync(file, script);
      return file;
    });
    const lint = files.length ? spawnSync("shellcheck", ["-s", "bash", "-f", "gcc", ...files], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }) : undefined;
    if (lint?.error) throw new Error(`shellcheck could not run: ${lint.error.message}`);
    const diagnostics = lint?.stdout.split("\n") ?? [];
    return files.map((file) => {
      const syntax = spawnSync("bash", ["-n", file], { encoding: "utf8" });
      return {
        syntax: syntax.status === 0 ? "" : syntax.stderr,
        shellcheck: diagnostics.filter((line) => line.startsWith(`${file}:`)).join("\n"),
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function checkShell(script: string): ShellCheckResult {
  return checkShellBatch([script])[0]!;
}
