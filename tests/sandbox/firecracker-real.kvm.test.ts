// The Firecracker driver with a REAL Firecracker, as the served runtime builds it
// (createFirecrackerSandbox): boots helloworld and invokes it; pauses it and takes a Full snapshot;
// restores two clones at once (File backend); records a REAP working set and prefetches it (the
// handler's counts); re-records a working set that no longer covers the function's work; kills
// the VMM when a working set fails its checksum mid-load, and when the handler ends while vCPUs wait
// on faults (mid-restore and while serving), after which a restore works again; takes a Diff
// snapshot of a restored VM and restores from it; restores into a slot whose tap has another name
// (network_overrides); runs a VM under the jailer. Needs KVM, FIRECRACKER_BIN (upstream firecracker
// v1.13.1 or v1.16.1) and FIRECRACKER_KERNEL (an uncompressed guest vmlinux,
// scripts/guest-kernel/build.sh); JAILER_BIN (a statically linked jailer and firecracker) for the
// jailer case. Here KVM exists only inside the nested-KVM machine:
// tests/sandbox/firecracker-nested.integration.test.ts runs this suite there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { DEFAULT_RERECORD_THRESHOLD, isWorkingSetStale, planWorkingSet } from "#node-runtime/memory/working-set-policy.js";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import type { StoredImage } from "#node-runtime/images/types.js";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import type { BootRequest, SandboxHandle } from "#node-runtime/sandbox/driver.js";
import { createFirecrackerSandbox, type FirecrackerSandbox } from "#node-runtime/sandbox/firecracker/create-firecracker-sandbox.js";
import { FIRECRACKER_DEFAULT_MACHINE } from "#node-runtime/sandbox/firecracker/driver.js";
import { vmName } from "#node-runtime/sandbox/firecracker/vm-layout.js";
import { EndableUffdLauncher } from "../fixtures/endable-uffd-launcher.js";
import { ensureHelloworldImage, HELLOWORLD_PORT } from "../fixtures/helloworld.js";

const bin = process.env.FIRECRACKER_BIN;
const kernel = process.env.FIRECRACKER_KERNEL;
const jailerBin = process.env.JAILER_BIN;
const missing = [bin ? "" : "FIRECRACKER_BIN", kernel ? "" : "FIRECRACKER_KERNEL", existsSync("/dev/kvm") ? "" : "/dev/kvm"].filter(Boolean);
if (missing.length > 0) console.warn(`firecracker-real.kvm.test: skipped, ${missing.join(" and ")} missing (no Firecracker, guest kernel or KVM here)`);
if (missing.length === 0 && !jailerBin) console.warn("firecracker-real.kvm.test: the jailer case is skipped, JAILER_BIN is not set");

const PROTO = fileURLToPath(new URL("../../node-runtime/api/protos/helloworld.proto", import.meta.url));
// Under nested KVM every exit and every userfaultfd round trip is slow: generous answer deadlines.
const ANSWER_WITHIN_MS = 180_000;
// This suite's address blocks: 10.154.<random>.0/24 (and the next octet for the jailer's pool).
const octet = Math.floor(Math.random() * 255);
const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
let work = "";
let images: LocalImageStore | undefined;
let image: StoredImage | undefined;
const sandboxes: FirecrackerSandbox[] = [];
const live: { sandbox: FirecrackerSandbox; handle: SandboxHandle }[] = [];
let fullSnapshot = "";

type Greeter = grpc.Client & {
  SayHello(req: { name: string }, opts: { deadline: number }, cb: (e: grpc.ServiceError | null, r?: { message: string }) => void): void;
};

async function sayHello(host: string, name: string, withinMs = ANSWER_WITHIN_MS): Promise<string> {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as unknown as {
    helloworld: { Greeter: new (addr: string, creds: grpc.ChannelCredentials) => Greeter };
  };
  const deadline = Date.now() + withinMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = new pkg.helloworld.Greeter(`${host}:${HELLOWORLD_PORT}`, grpc.credentials.createInsecure());
    try {
      return await new Promise<string>((ok, fail) => client.SayHello({ name }, { deadline: Date.now() + 20_000 }, (e, r) => (e ? fail(e) : ok(r!.message))));
    } catch (e) {
      last = e;
      await new Promise((ok) => setTimeout(ok, 200));
    } finally {
      client.close();
    }
  }
  throw new Error(`no SayHello answer from ${host}: ${String(last)}`);
}

function request(instanceId: string, slot: NonNullable<BootRequest["network"]>): BootRequest {
  return {
    instanceId,
    revision: "helloworld-00001",
    imageDigest: image!.digest,
    image: image!.config,
    port: HELLOWORLD_PORT,
    vcpus: FIRECRACKER_DEFAULT_MACHINE.vcpus,
    memoryMiB: FIRECRACKER_DEFAULT_MACHINE.memoryMiB,
    env: { GUEST_PORT: String(HELLOWORLD_PORT) },
    network: slot,
  };
}

async function sandbox(name: string, extra: Partial<Parameters<typeof createFirecrackerSandbox>[0]>, thirdOctet: number): Promise<FirecrackerSandbox> {
  const s = await createFirecrackerSandbox({
    images: images!,
    dataDir: join(work, name),
    firecrackerBin: bin!,
    kernelPath: kernel!,
    network: { namePrefix: `vh${name.slice(0, 2)}${tag}`, size: 4, cloneCidr: `10.154.${thirdOctet}.0/25`, transitCidr: `10.154.${thirdOctet}.128/25` },
    ...extra,
  });
  sandboxes.push(s);
  return s;
}

/** The VM's serial console and VMM log (direct mode), for a failure's message. */
function vmLogTail(sandboxName: string, instanceId: string): string {
  const log = join(work, sandboxName, "firecracker", "vms", vmName(instanceId), "firecracker.log");
  return existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-40).join("\n") : `(no log at ${log})`;
}

/** SayHello, failing with the VM's own log when it never answers. */
async function answers(sandboxName: string, handle: SandboxHandle, host: string, name: string): Promise<string> {
  try {
    return await sayHello(host, name);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- ${handle.instanceId}: firecracker.log ---\n${vmLogTail(sandboxName, handle.instanceId)}`);
  }
}

function needSnapshot(): string {
  if (fullSnapshot === "") throw new Error("no Full snapshot: the boot case failed before taking it");
  return fullSnapshot;
}

async function start<T extends SandboxHandle>(s: FirecrackerSandbox, run: Promise<T>): Promise<T> {
  const handle = await run;
  live.push({ sandbox: s, handle });
  return handle;
}

async function stop(s: FirecrackerSandbox, handle: SandboxHandle): Promise<void> {
  await s.driver.stop(handle);
  live.splice(
    live.findIndex((l) => l.handle === handle),
    1,
  );
}

/** Processes whose command line names this suite's VMs (all gone once they are stopped). */
function vmmProcessesOfThisSuite(): string[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
        return cmd.includes(tag) && cmd.includes("firecracker") ? [cmd.replace(/\0/g, " ")] : [];
      } catch {
        return [];
      }
    });
}

beforeAll(async () => {
  if (missing.length > 0) return;
  work = mkdtempSync(join(tmpdir(), "vhfc-real-"));
  const hello = await ensureHelloworldImage();
  // The suite's files may share one image store (its ext4 conversion takes minutes under nested KVM).
  images = new LocalImageStore({ root: process.env.KVM_TEST_IMAGE_DIR ?? join(work, "images") });
  image = await images.loadOciLayout(hello.layoutDir, hello.ref);
}, 900_000);

afterAll(async () => {
  for (const l of [...live]) await l.sandbox.driver.stop(l.handle).catch(() => undefined);
  for (const s of sandboxes) await s.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)("FirecrackerDriver with a real Firecracker", () => {
  it("boots helloworld, which answers; pauses it and takes a Full snapshot; stops it", async () => {
    const s = await sandbox("fc", {}, octet);
    const slot = await s.pool.acquire();
    const timer = new StageTimer();
    const booted = await start(s, s.driver.boot(request(`boot-${tag}`, slot), timer));
    expect(await answers("fc", booted, slot.cloneIp, "boot")).toBe("Hello, boot!");
    console.log("boot stages (µs):", timer.snapshot());
    const snapshotDir = join(work, "snapshot-full");
    mkdirSync(snapshotDir);
    await s.driver.pause(booted);
    await s.driver.snapshot(booted, snapshotDir);
    fullSnapshot = snapshotDir;
    await stop(s, booted);
    await s.pool.release(slot);
    expect(readdirSync(fullSnapshot).sort()).toEqual(expect.arrayContaining(["firecracker-snapshot.json", "memory", "vmstate"]));
    expect(vmmProcessesOfThisSuite()).toEqual([]);
  });

  it("restores two clones at once from the snapshot (File backend), each answering from its own address", async () => {
    const s = sandboxes[0]!;
    const clones = await Promise.all(
      [0, 1].map(async (i) => {
        const slot = await s.pool.acquire();
        const timer = new StageTimer();
        const h = await start(s, s.driver.restore({ ...request(`clone${i}-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "file" } }, timer));
        return { h, slot, timer };
      }),
    );
    for (const [i, c] of clones.entries()) {
      expect(await answers("fc", c.h, c.slot.cloneIp, `clone${i}`)).toBe(`Hello, clone${i}!`);
      console.log(`clone${i} stages (µs):`, c.timer.snapshot(), "rss:", (await s.driver.stats(c.h)).rssBytes);
    }
    for (const c of clones) {
      await stop(s, c.h);
      await s.pool.release(c.slot);
    }
    expect(vmmProcessesOfThisSuite()).toEqual([]);
  });

  it("REAP: records the working set of the first invocation, then prefetches it into the next restore", async () => {
    const s = sandboxes[0]!;
    const workingSetPath = join(work, "helloworld.reap");
    const slot = await s.pool.acquire();
    const rec = await start(
      s,
      s.driver.restore(
        { ...request(`rec-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "uffd", mode: "record", workingSetPath } },
        new StageTimer(),
      ),
    );
    expect(await answers("fc", rec, slot.cloneIp, "record")).toBe("Hello, record!");
    const recorded = (await s.driver.firstInvocationDone(rec)) as { mode: string; recordedPages: Uint32Array; workingSetBytes: number };
    expect(recorded.mode).toBe("record");
    expect(recorded.recordedPages.length).toBeGreaterThan(100);
    expect(existsSync(workingSetPath)).toBe(true);
    await stop(s, rec);

    const timer = new StageTimer();
    const pre = await start(
      s,
      s.driver.restore({ ...request(`pre-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "uffd", mode: "prefetch", workingSetPath } }, timer),
    );
    expect(await answers("fc", pre, slot.cloneIp, "record")).toBe("Hello, record!");
    const prefetched = (await s.driver.firstInvocationDone(pre)) as { mode: string; reusedPages: number; uniquePages: number; rerecord: boolean };
    console.log("REAP record:", recorded.recordedPages.length, "pages; prefetch:", prefetched, "stages (µs):", timer.snapshot());
    expect(prefetched.mode).toBe("prefetch");
    // The same invocation touches (nearly) the same pages: most come from the set, few are faulted.
    expect(prefetched.reusedPages).toBeGreaterThan(recorded.recordedPages.length / 2);
    expect(prefetched.uniquePages).toBeLessThan(prefetched.reusedPages / 4);
    expect(prefetched.rerecord).toBe(false);
    await stop(s, pre);
    await s.pool.release(slot);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
  });

  it("REAP re-records when the working set changed: a set recorded before any invocation leaves too many faults outside it, is marked stale, and the next load records it anew", async () => {
    const s = sandboxes[0]!;
    const workingSetPath = join(work, "changed.reap");
    const slot = await s.pool.acquire();
    type Prefetched = { mode: string; reusedPages: number; uniquePages: number; outsideShare: number; rerecord: boolean };
    type Recorded = { mode: string; recordedPages: Uint32Array };
    const load = async (id: string, mode: "record" | "prefetch", invokeFirst: boolean): Promise<Recorded | Prefetched> => {
      const h = await start(
        s,
        s.driver.restore({ ...request(`${id}-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "uffd", mode, workingSetPath } }, new StageTimer()),
      );
      if (invokeFirst) expect(await answers("fc", h, slot.cloneIp, id)).toBe(`Hello, ${id}!`);
      const result = (await s.driver.firstInvocationDone(h)) as Recorded | Prefetched;
      await stop(s, h);
      return result;
    };
    // Recorded with no invocation: only what the resumed guest touched on its own.
    const idle = (await load("idle", "record", false)) as Recorded;
    expect((await planWorkingSet(workingSetPath)).mode).toBe("prefetch");
    // The function's real work now falls mostly outside the set.
    const changed = (await load("changed", "prefetch", true)) as Prefetched;
    console.log("working set recorded idle:", idle.recordedPages.length, "pages; a real invocation on it:", changed);
    expect(changed.outsideShare).toBeGreaterThan(DEFAULT_RERECORD_THRESHOLD);
    expect(changed.rerecord).toBe(true);
    expect(await isWorkingSetStale(workingSetPath)).toBe(true);
    const plan = await planWorkingSet(workingSetPath);
    expect(plan).toMatchObject({ mode: "record", reason: expect.stringMatching(/^stale/) });
    // The runtime's next load follows the plan: it records again, which clears the mark.
    const again = (await load("again", plan.mode, true)) as Recorded;
    expect(again.mode).toBe("record");
    expect(again.recordedPages.length).toBeGreaterThan(idle.recordedPages.length);
    expect(await isWorkingSetStale(workingSetPath)).toBe(false);
    expect((await planWorkingSet(workingSetPath)).mode).toBe("prefetch");
    const after = (await load("after", "prefetch", true)) as Prefetched;
    console.log("re-recorded:", again.recordedPages.length, "pages; the next prefetch:", after);
    expect(after.outsideShare).toBeLessThan(DEFAULT_RERECORD_THRESHOLD);
    expect(after.rerecord).toBe(false);
    await s.pool.release(slot);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
  });

  it("a working set that fails its checksum once its pages reached the guest: the handler fails, the VMM is killed, nothing is left", async () => {
    const s = sandboxes[0]!;
    const good = join(work, "helloworld.reap");
    expect(existsSync(good), "the REAP case recorded no working set").toBe(true);
    // The last byte is page data: the set streams in and installs, then its checksum fails.
    const bad = join(work, "corrupt.reap");
    const bytes = readFileSync(good);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(bad, bytes);
    const slot = await s.pool.acquire();
    let outcome: string;
    try {
      const h = await start(
        s,
        s.driver.restore(
          { ...request(`bad-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "uffd", mode: "prefetch", workingSetPath: bad } },
          new StageTimer(),
        ),
      );
      const exit = await Promise.race([
        h.exited,
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error("the VMM still runs 5 minutes after its working set failed its checksum")), 300_000)),
      ]);
      outcome = `VMM exited (signal ${exit.signal}, code ${exit.code})`;
      await stop(s, h);
    } catch (e) {
      // The failure may also land during the load itself, failing the restore.
      outcome = `restore failed: ${(e as Error).message}`;
    }
    console.log("corrupt working set:", outcome);
    expect(outcome).not.toMatch(/signal null, code 0\)/);
    expect(outcome).toMatch(/checksum|working set|exited|handler/i);
    await s.pool.release(slot);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
    expect(readdirSync(join(work, "fc", "firecracker", "vms"))).toEqual([]);
  });

  it("the page-fault handler ending while vCPUs wait on faults: the VMM is killed, not left hanging; nothing is left; the next restore works", async () => {
    const launcher = new EndableUffdLauncher();
    const s = await sandbox("hd", { uffd: launcher }, (octet + 4) % 255);
    const good = join(work, "helloworld.reap");
    expect(existsSync(good), "the REAP case recorded no working set").toBe(true);
    const slot = await s.pool.acquire();
    const within = <T>(what: string, p: Promise<T>): Promise<T> =>
      Promise.race([p, new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`${what} within 5 minutes: the VMM hangs`)), 300_000))]);

    // Mid-restore: the handler ends once it serves, while the working set streams in and before the
    // vCPUs resume. The restore fails naming the handler, or (if the resume won the race) the VMM
    // it returned is killed at once; either way no VMM waits on faults nobody answers.
    const midId = `hdmid-${tag}`;
    launcher.endWhenServing.add(midId);
    let mid: string;
    try {
      const h = await start(
        s,
        s.driver.restore(
          { ...request(midId, slot), snapshotDir: needSnapshot(), memory: { kind: "uffd", mode: "prefetch", workingSetPath: good } },
          new StageTimer(),
        ),
      );
      const exit = await within("the VMM whose handler ended was not killed", h.exited);
      mid = `VMM exited (signal ${exit.signal}, code ${exit.code})`;
      expect(exit.signal).toBe("SIGKILL");
      await stop(s, h);
    } catch (e) {
      mid = `restore failed: ${(e as Error).message}`;
      expect(mid).toMatch(/page-fault handler ended/);
    }
    console.log("handler ended mid-restore:", mid);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
    expect(readdirSync(join(work, "hd", "firecracker", "vms"))).toEqual([]);

    // While serving a running guest (lazy: every page the invocation touches is a fault): the
    // invocation is in flight when the handler ends; the VMM is killed and the call fails.
    const lazy = await start(
      s,
      s.driver.restore({ ...request(`hdlazy-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "uffd", mode: "lazy" } }, new StageTimer()),
    );
    const call = sayHello(slot.cloneIp, "lost", 25_000).then(
      (m) => `answered: ${m}`,
      (e: Error) => `failed: ${e.message}`,
    );
    await launcher.end(lazy.instanceId);
    const exit = await within("the VMM whose handler ended was not killed", lazy.exited);
    expect(exit.signal).toBe("SIGKILL");
    console.log("handler ended while serving: VMM", exit, "; the call", await call);
    await stop(s, lazy);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
    expect(readdirSync(join(work, "hd", "firecracker", "vms"))).toEqual([]);

    // The next restore of the same snapshot, with the same working set, serves and answers.
    const next = await start(
      s,
      s.driver.restore(
        { ...request(`hdnext-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "uffd", mode: "prefetch", workingSetPath: good } },
        new StageTimer(),
      ),
    );
    expect(await answers("hd", next, slot.cloneIp, "after")).toBe("Hello, after!");
    await stop(s, next);
    await s.pool.release(slot);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
  });

  it("Diff snapshot: a restored VM with dirty-page tracking is snapshotted on top of its base memory and restores again", async () => {
    const s = await sandbox("df", { snapshotType: "Diff" }, (octet + 1) % 255);
    const slot = await s.pool.acquire();
    const restored = await start(
      s,
      s.driver.restore({ ...request(`diffbase-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "file" } }, new StageTimer()),
    );
    expect(await answers("df", restored, slot.cloneIp, "before-diff")).toBe("Hello, before-diff!");
    const diff = join(work, "snapshot-diff");
    mkdirSync(diff);
    await s.driver.pause(restored);
    await s.driver.snapshot(restored, diff);
    await stop(s, restored);
    const again = await start(s, s.driver.restore({ ...request(`diff-${tag}`, slot), snapshotDir: diff, memory: { kind: "file" } }, new StageTimer()));
    expect(await answers("df", again, slot.cloneIp, "after-diff")).toBe("Hello, after-diff!");
    await stop(s, again);
    await s.pool.release(slot);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
  });

  it("restores into a slot whose tap has another name, through network_overrides", async () => {
    // Same guest address and MAC as the snapshot's slot, another tap name: the load must rename it.
    const s = await sandbox(
      "ov",
      {
        network: {
          namePrefix: `vhov${tag}`,
          size: 2,
          tapName: "vhtap1",
          cloneCidr: `10.154.${(octet + 3) % 255}.0/25`,
          transitCidr: `10.154.${(octet + 3) % 255}.128/25`,
        },
      },
      (octet + 3) % 255,
    );
    const slot = await s.pool.acquire();
    expect(slot.tapName).toBe("vhtap1");
    const h = await start(s, s.driver.restore({ ...request(`ovr-${tag}`, slot), snapshotDir: needSnapshot(), memory: { kind: "file" } }, new StageTimer()));
    expect(await answers("ov", h, slot.cloneIp, "override")).toBe("Hello, override!");
    await stop(s, h);
    await s.pool.release(slot);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
  });

  it.skipIf(!jailerBin)("under the jailer: boots, answers, and leaves no jail or process when stopped", async () => {
    const uid = Number(process.env.FC_JAIL_UID ?? 10000);
    const s = await sandbox("jl", { jailer: { jailerBin: jailerBin!, uid, gid: uid, chrootBaseDir: join(work, "jail") } }, (octet + 2) % 255);
    const slot = await s.pool.acquire();
    const booted = await start(s, s.driver.boot(request(`jail-${tag}`, slot), new StageTimer()));
    expect(await sayHello(slot.cloneIp, "jailed")).toBe("Hello, jailed!");
    await stop(s, booted);
    await s.pool.release(slot);
    expect(vmmProcessesOfThisSuite()).toEqual([]);
    const jails = join(work, "jail", "firecracker");
    expect(existsSync(jails) ? readdirSync(jails) : []).toEqual([]);
  });
});
