// Runs the helper library for real, on files in a temporary directory (no host state touched,
// no network: downloads use file:// URLs), to check each helper's idempotence and its
// `changed` reporting, which every step's status line relies on.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HELPERS, stepScript } from "./helpers.js";
import { skipReason } from "#tests/requirements.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vhive-h1-helpers-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `body` after the library, with state and cache under the temp dir; prints $changed last. */
function run(body: string): { status: number | null; stdout: string; stderr: string; changed: string } {
  const script = ["set -euo pipefail", "step=test", HELPERS, `state_dir=${dir}/state`, `cache_dir=${dir}/cache`, body, 'echo "changed=$changed"'].join("\n");
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  const last = r.stdout.trimEnd().split("\n").at(-1) ?? "";
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, changed: last.startsWith("changed=") ? last.slice(8) : "" };
}

describe("helper library", () => {
  it("write_file writes once, then reports no change; backup and restore round-trip", () => {
    const file = join(dir, "etc", "conf");
    const write = `write_file ${file} 0644 <<'EOF'\nkey = 1\nEOF`;
    expect(run(write).changed).toBe("1");
    expect(readFileSync(file, "utf8")).toBe("key = 1\n");
    expect(run(write).changed).toBe("0");
    writeFileSync(file, "original\n");
    expect(run(`backup_once ${file}\n${write}`).changed).toBe("1");
    expect(run(`backup_once ${file}`).changed).toBe("0");
    expect(run(`remove_path ${file}\nrestore_backup ${file}`).changed).toBe("1");
    expect(readFileSync(file, "utf8")).toBe("original\n");
    expect(run(`restore_backup ${file}`).changed).toBe("0");
  });

  it("fetch_verified checks the checksum, caches, and refuses a mismatch", () => {
    const src = join(dir, "artifact.bin");
    writeFileSync(src, "artifact bytes\n");
    const sha = createHash("sha256").update("artifact bytes\n").digest("hex");
    const dest = join(dir, "cache", "artifact.bin");
    const fetch = (sum: string) => run(`fetch_verified file://${src} sha256:${sum} ${dest}`);
    expect(fetch(sha).changed).toBe("1");
    expect(readFileSync(dest, "utf8")).toBe("artifact bytes\n");
    expect(fetch(sha).changed).toBe("0");
    rmSync(dest);
    const bad = fetch("0".repeat(64));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(`vhive-step test: checksum mismatch for file://${src} (expected sha256:${"0".repeat(64)})\n`);
    expect(existsSync(dest)).toBe(false);
    const sha512 = createHash("sha512").update("artifact bytes\n").digest("hex");
    expect(run(`fetch_verified file://${src} sha512:${sha512} ${dest}`).changed).toBe("1");
  });

  it("build_uffd_addon builds the REAP addon with gcc alone, once, and node loads it", () => {
    const native = join(import.meta.dirname, "..", "..", "node-runtime", "memory", "native");
    const src = join(dir, "native");
    spawnSync("mkdir", ["-p", src]);
    for (const f of readdirSync(native).filter((n) => /\.(c|h)$/.test(n))) copyFileSync(join(native, f), join(src, f));
    const include = join(dirname(process.execPath), "..", "include", "node");
    expect(run(`build_uffd_addon ${src} ${include}`)).toMatchObject({ status: 0, changed: "1" });
    const addon = join(src, "build", "Release", "vhuf_uffd.node");
    const loaded = spawnSync(process.execPath, ["-e", `const a = require(${JSON.stringify(addon)}); console.log(typeof a.hash64(Buffer.from("x")))`], {
      encoding: "utf8",
    });
    expect(loaded.stdout.trim()).toBe("bigint");
    expect(run(`build_uffd_addon ${src} ${include}`).changed).toBe("0");
    rmSync(join(src, "build"), { recursive: true });
    const noHeaders = run(`build_uffd_addon ${src} ${join(dir, "no-include")}`);
    expect(noHeaders.status).toBe(1);
    expect(noHeaders.stderr).toContain(`node's headers (${join(dir, "no-include")}/node_api.h) are missing on ${hostname()}`);
  });

  it("install_binary records what it installed and remove_recorded_files removes exactly that", () => {
    const src = join(dir, "tool");
    writeFileSync(src, "#!/bin/sh\n");
    const dest = join(dir, "bin", "tool");
    expect(run(`install_binary ${src} ${dest}`).changed).toBe("1");
    expect(run(`install_binary ${src} ${dest}`).changed).toBe("0");
    expect(readFileSync(join(dir, "state", "test.files"), "utf8")).toBe(`${dest}\n`);
    expect(run("remove_recorded_files test").changed).toBe("1");
    expect(existsSync(dest)).toBe(false);
    expect(run("remove_recorded_files test").changed).toBe("0");
  });

  it("missing_checksum stops the step with its message", () => {
    const r = run("missing_checksum 'checksums.kubeadm: not recorded'\necho after");
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("vhive-step test: checksums.kubeadm: not recorded\n");
    expect(r.stdout).not.toContain("after");
  });

  it("module_present rejects an unknown module without trying to load it", () => {
    expect(run("if module_present vhive_no_such_module; then echo yes; else echo no; fi").stdout).toContain("no\n");
  });

  it("a whole step prints exactly one status line", () => {
    const script = stepScript("demo", `write_file ${join(dir, "f")} 0644 <<'EOF'\nx\nEOF`).replace("require_root_access\n", "");
    const first = spawnSync("bash", ["-c", script.replace("state_dir=/var/lib/vhive/state", `state_dir=${dir}/state`)], { encoding: "utf8" });
    expect(first.stdout).toBe("vhive-step demo: changed\n");
    const second = spawnSync("bash", ["-c", script.replace("state_dir=/var/lib/vhive/state", `state_dir=${dir}/state`)], { encoding: "utf8" });
    expect(second.stdout).toBe("vhive-step demo: unchanged\n");
  });

  const asNobody = skipReason("helpers.test non-root sudo case", { root: "to become an unprivileged user", commands: ["setpriv"] }) === undefined;
  it.skipIf(!asNobody)("a user without passwordless sudo gets one clear error naming user, host and step", () => {
    const script = stepScript("demo", "echo should-not-run");
    const r = spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "bash", "-c", script], { encoding: "utf8", cwd: "/" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`vhive-step demo: user nobody on ${hostname()} needs passwordless sudo\n`);
    expect(r.stdout).toBe("");
  });
});
