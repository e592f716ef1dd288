// The driver with a REAL Firecracker: boots the helloworld image, invokes SayHello through the
// slot's clone IP, snapshots it, restores two clones from the snapshot (File backend) and one
// through the REAP userfaultfd handler, and invokes each. Runs only where FIRECRACKER_BIN (upstream
// firecracker, v1.13.1 or v1.16.1) and FIRECRACKER_KERNEL (an uncompressed guest vmlinux) are set; with
// JAILER_BIN also set, every VM runs under the jailer (FC_JAIL_UID/FC_JAIL_GID, default 10000).
// Here KVM exists only inside the nested-KVM machine: tests/sandbox/firecracker-nested.test.ts runs
// this suite there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { LocalImageStore } from "../../node-runtime/images/image-store.js";
import type { StoredImage } from "../../node-runtime/images/types.js";
import { StageTimer } from "../../node-runtime/metrics/stages.js";
import type { BootRequest, SandboxHandle } from "../../node-runtime/sandbox/driver.js";
import { createFirecrackerSandbox, type FirecrackerSandbox } from "../../node-runtime/sandbox/firecracker/create-firecracker-sandbox.js";
import { FIRECRACKER_DEFAULT_MACHINE } from "../../node-runtime/sandbox/firecracker/driver.js";
import { ensureHelloworldImage, HELLOWORLD_PORT } from "../fixtures/helloworld.js";

const bin = process.env.FIRECRACKER_BIN;
const kernel = process.env.FIRECRACKER_KERNEL;
const jailerBin = process.env.JAILER_BIN;
const missing = [bin ? "" : "FIRECRACKER_BIN", kernel ? "" : "FIRECRACKER_KERNEL"].filter(Boolean);
if (missing.length > 0) console.warn(`firecracker-real.test: skipped, ${missing.join(" and ")} not set (no Firecracker binary or bootable guest kernel here)`);

const PROTO = fileURLToPath(new URL("../../node-runtime/api/protos/helloworld.proto", import.meta.url));
// This suite's address block: 10.154.<random>.0/24.
const octet = Math.floor(Math.random() * 256);
const tag = Math.random().toString(36).slice(2, 6).replace(/[^a-z0-9]/g, "x");
let work = "";
let sandbox: FirecrackerSandbox | undefined;
let image: StoredImage | undefined;
const live: SandboxHandle[] = [];

type Greeter = grpc.Client & { SayHello(req: { name: string }, opts: { deadline: number }, cb: (e: grpc.ServiceError | null, r?: { message: string }) => void): void };

async function sayHello(host: string, name: string, withinMs: number): Promise<string> {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as unknown as {
    helloworld: { Greeter: new (addr: string, creds: grpc.ChannelCredentials) => Greeter };
  };
  const deadline = Date.now() + withinMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = new pkg.helloworld.Greeter(`${host}:${HELLOWORLD_PORT}`, grpc.credentials.createInsecure());
    try {
      return await new Promise<string>((ok, fail) => client.SayHello({ name }, { deadline: Date.now() + 2_000 }, (e, r) => (e ? fail(e) : ok(r!.message))));
    } catch (e) {
      last = e;
      await new Promise((ok) => setTimeout(ok, 100));
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

beforeAll(async () => {
  if (missing.length > 0) return;
  work = mkdtempSync(join(tmpdir(), "vhfc-real-"));
  const hello = await ensureHelloworldImage();
  const images = new LocalImageStore({ root: join(work, "images") });
  image = await images.loadOciLayout(hello.layoutDir, hello.ref);
  sandbox = await createFirecrackerSandbox({
    images,
    dataDir: join(work, "data"),
    firecrackerBin: bin!,
    kernelPath: kernel!,
    ...(jailerBin
      ? { jailer: { jailerBin, uid: Number(process.env.FC_JAIL_UID ?? 10000), gid: Number(process.env.FC_JAIL_GID ?? 10000), chrootBaseDir: join(work, "jail") } }
      : {}),
    network: { namePrefix: `vhnt${tag}`, size: 4, cloneCidr: `10.154.${octet}.0/25`, transitCidr: `10.154.${octet}.128/25` },
  });
}, 900_000);

afterAll(async () => {
  for (const h of live) await sandbox?.driver.stop(h);
  await sandbox?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)("FirecrackerDriver with a real Firecracker", () => {
  it("boots helloworld, snapshots it, restores clones (File and REAP) that all answer SayHello", async () => {
    const { driver, pool } = sandbox!;
    const slot = await pool.acquire();
    const bootTimer = new StageTimer();
    const booted = await driver.boot(request(`boot-${tag}`, slot), bootTimer);
    live.push(booted);
    expect(await sayHello(slot.cloneIp, "boot", 180_000)).toBe("Hello, boot!");
    const snap = join(work, "snapshot");
    mkdirSync(snap);
    await driver.pause(booted);
    await driver.snapshot(booted, snap);
    await driver.stop(booted);
    live.splice(live.indexOf(booted), 1);
    await pool.release(slot);
    expect(readdirSync(snap).sort()).toEqual(["firecracker-snapshot.json", "memory", "rootfs.ext4", "vmstate"]);

    const clones = await Promise.all(
      [0, 1].map(async (i) => {
        const s = await pool.acquire();
        const timer = new StageTimer();
        const h = await driver.restore({ ...request(`clone${i}-${tag}`, s), snapshotDir: snap, memory: { kind: "file" } }, timer);
        live.push(h);
        return { h, s, timer };
      }),
    );
    for (const [i, c] of clones.entries()) {
      expect(await sayHello(c.s.cloneIp, `clone${i}`, 60_000)).toBe(`Hello, clone${i}!`);
      console.log(`clone${i} stages (µs):`, c.timer.snapshot(), "rss:", (await driver.stats(c.h)).rssBytes);
    }
    const reapSlot = await pool.acquire();
    const reap = await driver.restore({ ...request(`reap-${tag}`, reapSlot), snapshotDir: snap, memory: { kind: "uffd", mode: "record" } }, new StageTimer());
    live.push(reap);
    // Every page the guest touches is a userfaultfd round trip, far slower under nested KVM.
    expect(await sayHello(reapSlot.cloneIp, "reap", 180_000)).toBe("Hello, reap!");
    await driver.firstInvocationDone(reap);
    console.log("boot stages (µs):", bootTimer.snapshot());
  });
});
