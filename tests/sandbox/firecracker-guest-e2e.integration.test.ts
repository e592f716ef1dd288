// Everything of a Firecracker function start except the VMM: the real helloworld OCI image from the
// image store, our guest init and its config exactly as the driver writes them, the kernel command
// line the driver builds, and a network pool slot reached from the host through its clone IP.
// Instead of a microVM, the init runs chrooted into the image's root filesystem (an overlay, in a
// private mount and PID namespace) inside a guest namespace wired to the slot's tap by
// tests/network/tap-wire.py (which copies frames like a VMM's virtio-net backend). The init finds
// eth0 unconfigured and sets it up from ip=, as in a VM whose kernel lacks IP autoconfiguration.
// Test mode of the init: no /proc,/sys,/dev mounts by the init (done here), no reboot at the end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import type { StoredImage } from "#node-runtime/images/types.js";
import { NamespaceNetworkPool } from "#node-runtime/network/namespace-pool.js";
import type { NetworkSlot } from "#node-runtime/network/types.js";
import { buildGuestInit } from "#node-runtime/sandbox/firecracker/guest-init/build.js";
import { buildGuestConfig } from "#node-runtime/sandbox/firecracker/guest-config.js";
import { buildBootArgs, DEFAULT_BASE_BOOT_ARGS } from "#node-runtime/sandbox/firecracker/boot-args.js";
import { ensureHelloworldImage, HELLOWORLD_PORT } from "../fixtures/helloworld.js";
import { createGuestNamespace, type GuestNamespace } from "../network/guest-namespace.js";
import { skipReason } from "../requirements.js";

const runnable = skipReason("firecracker-guest-e2e.test", { root: "namespaces, chroot, overlay mounts" }) === undefined;

// This suite's address block: 10.153.<random>.0/24.
const octet = Math.floor(Math.random() * 256);
const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
const work = mkdtempSync(join(tmpdir(), "vhfc-e2e-"));
const PROTO = fileURLToPath(new URL("../../node-runtime/api/protos/helloworld.proto", import.meta.url));

let pool: NamespaceNetworkPool | undefined;
let slot: NetworkSlot | undefined;
let guest: GuestNamespace | undefined;
let image: StoredImage | undefined;
let rootfs = "";
let init = "";
const running: ChildProcess[] = [];

type Greeter = grpc.Client & {
  SayHello(req: { name: string }, opts: { deadline: number }, cb: (e: grpc.ServiceError | null, r?: { message: string }) => void): void;
};

function greeterAt(host: string): Greeter {
  const def = protoLoader.loadSync(PROTO);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { helloworld: { Greeter: new (addr: string, creds: grpc.ChannelCredentials) => Greeter } };
  return new pkg.helloworld.Greeter(`${host}:${HELLOWORLD_PORT}`, grpc.credentials.createInsecure());
}

async function sayHelloWithin(host: string, name: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = greeterAt(host);
    try {
      return await new Promise<string>((ok, fail) => client.SayHello({ name }, { deadline: Date.now() + 2_000 }, (e, r) => (e ? fail(e) : ok(r!.message))));
    } catch (e) {
      last = e;
      await new Promise((ok) => setTimeout(ok, 250));
    } finally {
      client.close();
    }
  }
  throw new Error(`no SayHello answer from ${host} within ${ms} ms: ${String(last)}`);
}

/** Starts the init as the guest would, returns the process (killing it ends its PID namespace). */
function startGuest(user: string, instanceId: string): { proc: ChildProcess; output: () => string } {
  const dir = join(work, instanceId);
  for (const d of ["upper/.vhfc", "work", "merged"]) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(init, join(dir, "upper/.vhfc/init"));
  writeFileSync(join(dir, "upper/.vhfc/config"), buildGuestConfig({ ...image!.config, user }, { GUEST_PORT: String(HELLOWORLD_PORT) }));
  writeFileSync(join(dir, "upper/.vhfc/cmdline"), buildBootArgs(DEFAULT_BASE_BOOT_ARGS, slot, instanceId) + "\n");
  const m = join(dir, "merged");
  const script = [
    "set -e",
    `mount -t overlay overlay -o lowerdir=${rootfs},upperdir=${join(dir, "upper")},workdir=${join(dir, "work")} ${m}`,
    `mount --rbind /dev ${m}/dev`,
    `mount -t proc proc ${m}/proc`,
    `mount -t sysfs sysfs ${m}/sys`,
    `exec chroot ${m} /.vhfc/init --cmdline-file /.vhfc/cmdline --config /.vhfc/config`,
  ].join("\n");
  const proc = spawn(
    "ip",
    ["netns", "exec", guest!.netns, "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "sh", "-c", script],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  proc.stdout!.on("data", (d) => (out += d.toString()));
  proc.stderr!.on("data", (d) => (out += d.toString()));
  running.push(proc);
  return { proc, output: () => out };
}

/**
 * SIGTERM to the init (PID 1 of the guest's PID namespace; unshare itself blocks SIGTERM while it
 * waits), which forwards it to the entrypoint; SIGKILL to unshare after 5 s (--kill-child).
 */
async function stopGuest(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((ok) => proc.once("exit", ok));
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(proc.pid)], { encoding: "utf8" })
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  for (const pid of children) process.kill(Number(pid), "SIGTERM");
  const force = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await done;
  clearTimeout(force);
}

beforeAll(async () => {
  if (!runnable) return;
  const hello = await ensureHelloworldImage();
  const store = new LocalImageStore({ root: join(work, "images") });
  image = await store.loadOciLayout(hello.layoutDir, hello.ref);
  rootfs = await store.rootfs(image.digest);
  init = await buildGuestInit(join(work, "init"));
  pool = await NamespaceNetworkPool.create({ namePrefix: `vhnt${tag}`, size: 1, cloneCidr: `10.153.${octet}.0/25`, transitCidr: `10.153.${octet}.128/25` });
  slot = await pool.acquire();
  guest = await createGuestNamespace(slot, `vhnt${tag}g`, false);
}, 900_000);

afterAll(async () => {
  for (const p of running) await stopGuest(p);
  guest?.close();
  await pool?.destroy();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!runnable)("helloworld image booted by our guest init (no VMM)", () => {
  it("configures the guest network from ip= and serves SayHello at the clone IP as the image's user", async () => {
    expect(execFileSync("ip", ["-n", guest!.netns, "-o", "-4", "addr"], { encoding: "utf8" })).not.toContain(slot!.guestIp);
    const g = startGuest("nobody", `hello-${tag}`);
    try {
      const answer = await sayHelloWithin(slot!.cloneIp, "vhfc", 30_000).catch((e: Error) => `${e.message}\nguest output:\n${g.output()}`);
      expect(answer).toBe("Hello, vhfc!");
      expect(execFileSync("ip", ["-n", guest!.netns, "-o", "-4", "addr", "show", "eth0"], { encoding: "utf8" })).toContain(
        `${slot!.guestIp}/${slot!.prefixLength}`,
      );
      expect(execFileSync("ip", ["-n", guest!.netns, "route", "show", "default"], { encoding: "utf8" })).toContain(`via ${slot!.gatewayIp} dev eth0`);
      // The server runs as the image's nobody (uid 65534) from the image's /etc/passwd, in /app.
      const pids = execFileSync("pgrep", ["-f", "/app/server.py"], { encoding: "utf8" }).trim().split("\n");
      const owners = pids.map((pid) => {
        try {
          const status = execFileSync("cat", [`/proc/${pid}/status`], { encoding: "utf8" });
          const cwd = execFileSync("readlink", [`/proc/${pid}/cwd`], { encoding: "utf8" }).trim();
          return { uid: /^Uid:\s+(\d+)/m.exec(status)?.[1], cwd };
        } catch {
          return undefined;
        }
      });
      expect(owners).toContainEqual({ uid: "65534", cwd: expect.stringMatching(/merged\/app$/) });
    } finally {
      await stopGuest(g.proc);
    }
    // SIGTERM reached the entrypoint through the init (the server exits on it).
    expect(g.output()).toMatch(/entrypoint exited with status/);
  });
});
