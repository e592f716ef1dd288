// The gVisor driver against the real runsc and vHive's helloworld image: boot, invoke over the
// host Unix socket, snapshot, three concurrent restores, and the fault cases; after each group
// nothing of ours may remain (runsc containers, processes, mounts, files).
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm, stat, truncate } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import type { BootRequest, SandboxHandle } from "#node-runtime/sandbox/driver.js";
import { SandboxExitedError, SandboxRequestError, SandboxStateError, SandboxTimeoutError } from "#node-runtime/sandbox/errors.js";
import { CHECKPOINT_FILE, GvisorDriver } from "#node-runtime/sandbox/gvisor/driver.js";
import { SNAPSHOT_OPTIONS_RELEASE } from "#node-runtime/sandbox/gvisor/runsc-cli.js";
import { gvisorUnavailable, leftovers, loadHelloworld, sayHello, type HelloworldStore } from "./gvisor/helloworld-fixture.js";

const unavailable = gvisorUnavailable();
if (unavailable) console.warn(`gVisor driver tests skipped: ${unavailable}`);

const BASE = `/run/vhgv-t${process.pid}`;
let hw: HelloworldStore;
let driver: GvisorDriver;
let snapshotRoot: string;

function request(instanceId: string, overrides: Partial<BootRequest> = {}): BootRequest {
  return {
    instanceId,
    revision: "hello-1",
    imageDigest: hw.image.digest,
    image: hw.image.config,
    port: hw.port,
    vcpus: 1,
    memoryMiB: 256,
    ...overrides,
  };
}

async function expectNothingLeft(): Promise<void> {
  expect(await leftovers(BASE)).toEqual({ containers: [], processes: [], mounts: [], files: [] });
}

describe.skipIf(unavailable !== undefined)("gVisor driver (real runsc)", () => {
  const started: SandboxHandle[] = [];

  beforeAll(async () => {
    hw = await loadHelloworld();
    driver = new GvisorDriver(hw.store, { baseDir: BASE });
    snapshotRoot = await mkdtemp("/var/tmp/vhgv-snap-");
  });

  afterAll(async () => {
    // Whatever a failed test left running is stopped here, so the host stays clean either way.
    for (const h of started) await driver?.stop(h).catch(() => undefined);
    await rm(BASE, { recursive: true, force: true });
    if (snapshotRoot) await rm(snapshotRoot, { recursive: true, force: true });
    await hw?.dispose();
  });

  it("boots helloworld, answers SayHello on the host Unix socket, times its stages, reports memory", async () => {
    const timer = new StageTimer();
    const h = await driver.boot(request("boot1"), timer);
    started.push(h);
    expect(h.endpoint).toEqual({ kind: "unix", path: `${BASE}/instances/boot1/sock/fn.sock` });
    expect(h.pid).toBeGreaterThan(0);
    expect(Object.keys(timer.snapshot()).sort()).toEqual(["ConnectFuncClient", "NewContainer", "TaskStart"]);
    expect(await sayHello(h.endpoint, "gVisor")).toBe("Hello, gVisor!");
    // a second call on a new connection: the relay serves more than one
    expect(await sayHello(h.endpoint, "again")).toBe("Hello, again!");
    // many connections at once, and a message far larger than the relay's 64 KiB buffers
    const names = Array.from({ length: 12 }, (_, i) => `caller-${i}`);
    expect(await Promise.all(names.map((n) => sayHello(h.endpoint, n)))).toEqual(names.map((n) => `Hello, ${n}!`));
    const big = "x".repeat(1024 * 1024);
    expect(await sayHello(h.endpoint, big)).toBe(`Hello, ${big}!`);
    const stats = await driver.stats(h);
    // Python with gRPC loaded occupies tens of MB in the sentry and its stubs
    expect(stats.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(stats.cpuMicros).toBeGreaterThan(0);
    await driver.pause(h);
    await expect(sayHello(h.endpoint, "paused", 700)).rejects.toThrow(/DEADLINE_EXCEEDED|Deadline/);
    await driver.resume(h);
    expect(await sayHello(h.endpoint, "resumed")).toBe("Hello, resumed!");
    await driver.stop(h);
    await expectNothingLeft();
  });

  it("gives the function a writable root while the image store's rootfs stays untouched", async () => {
    const marker = "app/written-in-sandbox";
    const image = { ...hw.image.config, entrypoint: ["/bin/sh", "-c", `echo x > /${marker} && exec python3 -u /app/server.py`], cmd: [] };
    const h = await driver.boot(request("rw1", { image }), new StageTimer());
    started.push(h);
    expect(await sayHello(h.endpoint, "rw")).toBe("Hello, rw!");
    const rootfs = await hw.store.rootfs(hw.image.digest);
    expect(existsSync(path.join(rootfs, marker))).toBe(false);
    // nor the mount points runsc makes for the relay and its socket directory
    expect(existsSync(path.join(rootfs, ".vhgv"))).toBe(false);
    await driver.stop(h);
    await expectNothingLeft();
  });

  it("runs the function as the image's user, named in the image's /etc/passwd", async () => {
    // the function proves its identity: it only starts serving if it runs as nobody (uid 65534)
    const check = "import os, sys; sys.exit(0 if (os.getuid(), os.getgid()) == (65534, 65534) else 3)";
    const image = { ...hw.image.config, user: "nobody", entrypoint: ["/bin/sh", "-c", `python3 -c '${check}' && exec python3 -u /app/server.py`], cmd: [] };
    const h = await driver.boot(request("user1", { image }), new StageTimer());
    started.push(h);
    expect(await sayHello(h.endpoint, "nobody")).toBe("Hello, nobody!");
    await driver.stop(h);
    await expectNothingLeft();
  });

  it("snapshots, restores three instances concurrently from one checkpoint, each on its own socket", async () => {
    const source = await driver.boot(request("snap-src"), new StageTimer());
    started.push(source);
    expect(await sayHello(source.endpoint, "before")).toBe("Hello, before!");
    const dir = path.join(snapshotRoot, "hello-1");
    await import("node:fs/promises").then((fs) => fs.mkdir(dir));
    await driver.pause(source);
    const files = await driver.snapshot(source, dir);
    // checkpoint.img, and with uncompressed pages (the default on a runsc that has the option) the
    // pages in files of their own
    expect(files.files).toContain(CHECKPOINT_FILE);
    const sizes = await Promise.all(files.files.map(async (f) => (await stat(path.join(dir, f))).size));
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(1024 * 1024);
    // this runsc ends the sandbox it checkpoints; the handle says so instead of pretending
    await expect(driver.resume(source)).rejects.toThrow(/checkpoint ended the sandbox/);
    await driver.stop(source);

    const timers = [new StageTimer(), new StageTimer(), new StageTimer()];
    const restored = await Promise.all(
      ["r1", "r2", "r3"].map((id, i) => driver.restore({ ...request(id), snapshotDir: dir, memory: { kind: "file" } }, timers[i]!)),
    );
    started.push(...restored);
    const paths = restored.map((h) => (h.endpoint.kind === "unix" ? h.endpoint.path : ""));
    expect(new Set(paths).size).toBe(3);
    for (const t of timers) expect(Object.keys(t.snapshot()).sort()).toEqual(["ConnectFuncClient", "LoadVMM"]);
    const answers = await Promise.all(restored.map((h) => sayHello(h.endpoint, h.instanceId)));
    expect(answers).toEqual(["Hello, r1!", "Hello, r2!", "Hello, r3!"]);
    // distinct sandboxes: stopping one leaves the others serving
    await driver.stop(restored[0]!);
    expect(await sayHello(restored[1]!.endpoint, "still")).toBe("Hello, still!");
    // a restored instance can be checkpointed again, and that checkpoint restores too
    const again = path.join(snapshotRoot, "hello-1-again");
    await import("node:fs/promises").then((fs) => fs.mkdir(again));
    await driver.snapshot(restored[2]!, again);
    await Promise.all(restored.slice(1).map((h) => driver.stop(h)));
    const second = await driver.restore({ ...request("r4"), snapshotDir: again, memory: { kind: "file" } }, new StageTimer());
    started.push(second);
    expect(await sayHello(second.endpoint, "second generation")).toBe("Hello, second generation!");
    await driver.stop(second);
    await expectNothingLeft();
  });

  it("snapshots and restores with runsc's checkpoint options where this runsc has them, and refuses them up front where not", async () => {
    const tuned = new GvisorDriver(hw.store, {
      baseDir: BASE,
      snapshot: { uncompressed: true, excludeZeroPages: true, backgroundRestore: true, directIo: true },
    });
    const release = await tuned.cli().release();
    const source = await tuned.boot(request("opt-src"), new StageTimer());
    started.push(source);
    const dir = await mkdtemp(path.join(snapshotRoot, "opt-"));
    if (release === undefined || release < SNAPSHOT_OPTIONS_RELEASE) {
      await expect(tuned.snapshot(source, dir)).rejects.toThrow(SandboxStateError);
      // refused before the sandbox was touched: it still serves
      expect(await sayHello(source.endpoint, "untouched")).toBe("Hello, untouched!");
      await tuned.stop(source);
    } else {
      await tuned.snapshot(source, dir);
      await tuned.stop(source);
      const restored = await Promise.all(
        ["opt-r1", "opt-r2"].map((id) => tuned.restore({ ...request(id), snapshotDir: dir, memory: { kind: "file" } }, new StageTimer())),
      );
      started.push(...restored);
      expect(await Promise.all(restored.map((h) => sayHello(h.endpoint, h.instanceId)))).toEqual(["Hello, opt-r1!", "Hello, opt-r2!"]);
      for (const h of restored) await tuned.stop(h);
    }
    await expectNothingLeft();
  });

  it("reclaims what an earlier driver (a runtime process that died) left for an instance", async () => {
    const h = await driver.boot(request("orphan"), new StageTimer());
    started.push(h);
    // a new driver on the same base dir knows nothing of the sandbox, as after a runtime restart
    const successor = new GvisorDriver(hw.store, { baseDir: BASE });
    await successor.reclaim("orphan");
    // The first driver's reaper saw its sandbox killed by the successor.
    expect(await h.exited).toEqual({ code: null, signal: "SIGKILL" });
    await expectNothingLeft();
  });

  it("fails a boot whose entrypoint does not exist, naming the exit, and cleans up", async () => {
    const image = { ...hw.image.config, entrypoint: ["/no/such/program"], cmd: [] };
    const boot = driver.boot(request("noentry", { image }), new StageTimer());
    await expect(boot).rejects.toThrow(
      /gVisor boot of instance noentry failed: the function exited with code 127 before listening on port 50051[\s\S]*cannot execute \/no\/such\/program/,
    );
    await expect(boot).rejects.toBeInstanceOf(SandboxExitedError);
    await expectNothingLeft();
  });

  it("times out a function that never opens its port, with a clear error, and cleans up", async () => {
    const quick = new GvisorDriver(hw.store, { baseDir: BASE, bootTimeoutMs: 3_000 });
    const image = { ...hw.image.config, entrypoint: ["/usr/bin/python3", "-c", "import time; print('sleeping', flush=True); time.sleep(600)"], cmd: [] };
    const boot = quick.boot(request("noport", { image }), new StageTimer());
    await expect(boot).rejects.toThrow(/gVisor boot of instance noport failed: the function did not listen on port 50051 within 3000 ms[\s\S]*sleeping/);
    await expect(boot).rejects.toBeInstanceOf(SandboxTimeoutError);
    await expectNothingLeft();
  });

  it("resolves `exited` with the signal when the sandbox is killed, and stop still cleans up", async () => {
    const h = await driver.boot(request("killed"), new StageTimer());
    started.push(h);
    process.kill(h.pid as number, "SIGKILL");
    const exit = await Promise.race([h.exited, new Promise((r) => setTimeout(() => r("still waiting"), 10_000))]);
    // runsc ran under the driver's reaper, which inherited the sandbox and logged how it ended.
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    await expect(driver.stats(h)).rejects.toThrow(/exited/);
    await driver.stop(h);
    await expectNothingLeft();
  });

  it("resolves `exited` with the function's exit code when it ends by itself", async () => {
    const image = { ...hw.image.config, entrypoint: ["/bin/sh", "-c", "python3 -u /app/server.py & sleep 5; exit 7"], cmd: [] };
    const h = await driver.boot(request("selfexit", { image }), new StageTimer());
    started.push(h);
    const exit = await Promise.race([h.exited, new Promise((r) => setTimeout(() => r("still waiting"), 15_000))]);
    expect(exit).toEqual({ code: 7, signal: null });
    await driver.stop(h);
    await expectNothingLeft();
  });

  it("refuses a truncated checkpoint with a clear error and leaves nothing behind", async () => {
    const good = path.join(snapshotRoot, "hello-1", CHECKPOINT_FILE);
    const bad = path.join(snapshotRoot, "truncated");
    await import("node:fs/promises").then((fs) => fs.mkdir(bad));
    await copyFile(good, path.join(bad, CHECKPOINT_FILE));
    await truncate(path.join(bad, CHECKPOINT_FILE), Math.floor((await stat(good)).size / 2));
    await expect(driver.restore({ ...request("trunc"), snapshotDir: bad, memory: { kind: "file" } }, new StageTimer())).rejects.toThrow(
      /gVisor restore of instance trunc from .*truncated failed: runsc restore vhgv-trunc failed/,
    );
    await expectNothingLeft();
    const empty = path.join(snapshotRoot, "empty");
    await import("node:fs/promises").then((fs) => fs.mkdir(empty));
    await expect(driver.restore({ ...request("nosnap"), snapshotDir: empty, memory: { kind: "file" } }, new StageTimer())).rejects.toThrow(
      `gVisor restore of instance nosnap: snapshot ${empty} has no ${CHECKPOINT_FILE}`,
    );
    await expectNothingLeft();
  });

  it("refuses a second instance with a live instance's id and leaves the first one alone", async () => {
    const h = await driver.boot(request("twice"), new StageTimer());
    started.push(h);
    await expect(driver.boot(request("twice"), new StageTimer())).rejects.toThrow(/instance directory .*twice is in use/);
    await expect(driver.boot(request("twice"), new StageTimer())).rejects.toBeInstanceOf(SandboxStateError);
    expect(await sayHello(h.endpoint, "first")).toBe("Hello, first!");
    await driver.stop(h);
    await expectNothingLeft();
  });

  it("refuses bad requests before touching runsc", async () => {
    await expect(driver.boot(request("bad/id"), new StageTimer())).rejects.toThrow(/instanceId "bad\/id" must be/);
    await expect(driver.boot(request("bad/id"), new StageTimer())).rejects.toBeInstanceOf(SandboxRequestError);
    await expect(driver.boot(request("noport2", { port: 0 }), new StageTimer())).rejects.toThrow(/port 0 is not a TCP port/);
    await expectNothingLeft();
  });

  it("reports whether this host's runsc can do netstack networking, and refuses netns mode where not", async () => {
    const support = await driver.netstackSupport();
    console.info(`runsc netstack networking here: ${support.supported ? "supported" : `unsupported (${support.reason})`}`);
    if (!support.supported) {
      expect(support.reason).toMatch(/runsc start/);
      const netDriver = new GvisorDriver(hw.store, { baseDir: BASE, network: "netns", networkPrefix: "vhgvu", networkSubnet: "10.156.250.0/30" });
      await expect(netDriver.boot(request("net1"), new StageTimer())).rejects.toThrow(/cannot use netstack networking/);
    }
    await expectNothingLeft();
  });
});
