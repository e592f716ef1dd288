// Builds the guest init with the machine's cc and runs it on the host in its test mode
// (`--cmdline-file/--config`: no mounts, no hostname, no reboot; exits with the entrypoint's status)
// inside a network namespace this test creates (prefix vhfc) holding a veth eth0. What this
// cannot show on the host: mounting /proc,/sys,/dev as PID 1 and the reboot that ends the VM.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildGuestInit } from "#node-runtime/sandbox/firecracker/guest-init/build.js";
import { buildGuestConfig } from "#node-runtime/sandbox/firecracker/guest-config.js";
import { buildBootArgs, DEFAULT_BASE_BOOT_ARGS } from "#node-runtime/sandbox/firecracker/boot-args.js";
import type { NetworkSlot } from "#node-runtime/network/types.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("firecracker-guest-init.test: network part skipped, needs root for a network namespace");

const dir = mkdtempSync(join(tmpdir(), "vhfc-init-"));
const netns = `vhfc-init-${process.pid}`;
let init = "";

const slot: NetworkSlot = {
  index: 0,
  netns,
  tapName: "tap0",
  guestIp: "172.16.0.2",
  guestMac: "02:fc:00:00:00:01",
  gatewayIp: "172.16.0.1",
  prefixLength: 30,
  cloneIp: "10.0.0.1",
};

function run(config: string, cmdline: string, inNetns: boolean): { code: number | null; out: string; err: string } {
  writeFileSync(join(dir, "config"), config);
  writeFileSync(join(dir, "cmdline"), cmdline);
  const args = [init, "--cmdline-file", join(dir, "cmdline"), "--config", join(dir, "config")];
  const r = inNetns ? spawnSync("ip", ["netns", "exec", netns, ...args], { encoding: "utf8" }) : spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  init = await buildGuestInit(dir);
  if (isRoot) {
    execFileSync("ip", ["netns", "add", netns]);
    // A veth whose peer is up gives eth0 a carrier, like a NIC attached to a tap.
    execFileSync("ip", ["-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"]);
    execFileSync("ip", ["-n", netns, "link", "set", "peer0", "up"]);
  }
});

afterAll(() => {
  if (isRoot) spawnSync("ip", ["netns", "del", netns]);
  rmSync(dir, { recursive: true, force: true });
});

describe("vhfc-init (guest init, host test mode)", () => {
  it("is a static executable", () => {
    expect(execFileSync("file", [init], { encoding: "utf8" })).toMatch(/statically linked/);
  });

  it.skipIf(!isRoot)("configures eth0 from ip=, then runs the entrypoint with its env, user and cwd", () => {
    const config = buildGuestConfig(
      {
        entrypoint: ["/bin/sh", "-c"],
        cmd: ['echo "uid=$(id -u) gid=$(id -g) cwd=$(pwd)"; printf "%s|" "$GREETING"; echo; ip -o -4 addr show eth0; ip route show default; exit 7'],
        env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello\nsecond line \\ backslash"],
        workingDir: "/tmp",
        user: "nobody",
      },
      { K_REVISION: "rev-1" },
    );
    const r = run(config, buildBootArgs(DEFAULT_BASE_BOOT_ARGS, slot, "fn-1") + "\n", true);
    expect(r.err).toContain("entrypoint exited with status 7");
    expect(r.code).toBe(7);
    expect(r.out).toContain("uid=65534 gid=65534 cwd=/tmp");
    expect(r.out).toContain("hello\nsecond line \\ backslash|");
    expect(r.out).toMatch(/eth0\s+inet 172\.16\.0\.2\/30/);
    expect(r.out).toContain("default via 172.16.0.1 dev eth0");
  });

  it("passes only the configured environment and honours uid:gid", () => {
    const config = buildGuestConfig({ entrypoint: [], cmd: ["env"], env: ["A=1"], workingDir: "/", user: "1234:4321" }, { B: "2" });
    const r = run(config, "console=ttyS0\n", false);
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n").sort()).toEqual(["A=1", "B=2", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
  });

  it("fails clearly for an unknown user or a missing entrypoint binary", () => {
    const badUser = run(buildGuestConfig({ entrypoint: ["true"], cmd: [], env: [], workingDir: "/", user: "no-such-user" }), "\n", false);
    expect(badUser.code).toBe(127);
    expect(badUser.err).toContain("user no-such-user not found in /etc/passwd");
    const badExec = run(buildGuestConfig({ entrypoint: ["no-such-binary"], cmd: [], env: [], workingDir: "/", user: "0" }), "\n", false);
    expect(badExec.code).toBe(127);
    expect(badExec.err).toMatch(/exec no-such-binary .*No such file/);
  });

  it("reports a signal-killed entrypoint as 128+signal", () => {
    const r = run(buildGuestConfig({ entrypoint: ["/bin/sh", "-c", "kill -TERM $$"], cmd: [], env: [], workingDir: "/", user: "0" }), "\n", false);
    expect(r.code).toBe(128 + 15);
  });
});
