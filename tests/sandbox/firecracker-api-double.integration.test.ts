// The thin API client against the Firecracker API test double: shows what the double enforces
// (spec validation per version, Firecracker's state machine, Firecracker-shaped errors), so the
// driver tests built on it mean something. Temp dirs carry the vhfc prefix.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FirecrackerApiClient, FirecrackerApiError } from "#node-runtime/sandbox/firecracker/api-client.js";
import type { FirecrackerApiVersion } from "#node-runtime/sandbox/firecracker/api-types.js";
import { installFirecrackerDouble } from "../doubles/firecracker/install-double.js";
import { skipReason } from "../requirements.js";
import { firecrackerSpec } from "../upstream-specs.js";

// The double validates every request against Firecracker's own API spec of each version.
const skip = skipReason("firecracker-api-double.test", { specs: [firecrackerSpec("1.13.1"), firecrackerSpec("1.16.1")] }) !== undefined;

const work = mkdtempSync(join(tmpdir(), "vhfc-api-"));
const kernel = join(work, "vmlinux");
const disk = join(work, "disk.ext4");
writeFileSync(kernel, "kernel stand-in");
writeFileSync(disk, "disk stand-in");
const running: ChildProcess[] = [];
let n = 0;

async function startDouble(version: FirecrackerApiVersion): Promise<FirecrackerApiClient> {
  const dir = mkdtempSync(join(work, "vm-"));
  const bin = installFirecrackerDouble(dir, version, join(dir, "api.jsonl"));
  const sock = join(dir, `api-${n++}.socket`);
  const child = spawn(bin, ["--api-sock", sock, "--id", "t"], { cwd: dir, stdio: "ignore" });
  running.push(child);
  const client = new FirecrackerApiClient(sock);
  for (let i = 0; i < 400; i++) {
    if (existsSync(sock)) {
      try {
        await client.describeInstance();
        return client;
      } catch {
        // not answering yet
      }
    }
    await new Promise((ok) => setTimeout(ok, 10));
  }
  throw new Error("double did not start");
}

async function refusal(p: Promise<unknown>): Promise<FirecrackerApiError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FirecrackerApiError);
  expect((e as FirecrackerApiError).status).toBe(400);
  return e as FirecrackerApiError;
}

async function bootMinimal(c: FirecrackerApiClient): Promise<void> {
  await c.putMachineConfig({ vcpu_count: 1, mem_size_mib: 64 });
  await c.putBootSource({ kernel_image_path: kernel });
  await c.putDrive({ drive_id: "rootfs", path_on_host: disk, is_root_device: true, is_read_only: false });
  await c.instanceStart();
}

afterEach(() => {
  for (const c of running.splice(0)) c.kill("SIGKILL");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(skip).each(["1.13.1", "1.16.1"] as const)("Firecracker API double v%s", (version) => {
  it("reports its version and walks Not started → Running → Paused → Running", async () => {
    const c = await startDouble(version);
    expect(await c.version()).toEqual({ firecracker_version: version });
    expect((await c.describeInstance()).state).toBe("Not started");
    await bootMinimal(c);
    expect((await c.describeInstance()).state).toBe("Running");
    await c.patchVm({ state: "Paused" });
    expect((await c.describeInstance()).state).toBe("Paused");
    await c.patchVm({ state: "Resumed" });
    expect((await c.describeInstance()).state).toBe("Running");
  });

  it("validates bodies against the spec: types, bounds, enums, required and unknown fields", async () => {
    const c = await startDouble(version);
    expect((await refusal(c.putMachineConfig({ vcpu_count: 0, mem_size_mib: 64 }))).faultMessage).toMatch(/vcpu_count must be >= 1/);
    expect((await refusal(c.putMachineConfig({ vcpu_count: 1, mem_size_mib: 64, bogus: 1 } as never))).faultMessage).toMatch(/additional properties 'bogus'/);
    expect((await refusal(c.putBootSource({} as never))).faultMessage).toMatch(/kernel_image_path/);
    expect((await refusal(c.putDrive({ drive_id: "d", is_root_device: "yes" } as never))).faultMessage).toMatch(/is_root_device must be boolean/);
    await bootMinimal(c);
    expect((await refusal(c.patchVm({ state: "Stopped" } as never))).faultMessage).toMatch(/must be equal to one of the allowed values/);
  });

  it("enforces the state machine", async () => {
    const c = await startDouble(version);
    expect((await refusal(c.patchVm({ state: "Paused" }))).faultMessage).toMatch(/not supported before starting/);
    expect((await refusal(c.instanceStart())).faultMessage).toMatch(/without kernel configuration/);
    await bootMinimal(c);
    expect((await refusal(c.putMachineConfig({ vcpu_count: 2, mem_size_mib: 64 }))).faultMessage).toMatch(/not supported after starting/);
    expect((await refusal(c.instanceStart())).faultMessage).toMatch(/not supported after starting/);
    expect((await refusal(c.createSnapshot({ snapshot_path: join(work, "s"), mem_file_path: join(work, "m") }))).faultMessage).toMatch(/must be paused/);
    await c.patchVm({ state: "Paused" });
    expect((await refusal(c.createSnapshot({ snapshot_path: join(work, "s"), mem_file_path: join(work, "m"), snapshot_type: "Diff" }))).faultMessage).toMatch(
      /Diff snapshots are not enabled/,
    );
    expect((await refusal(c.loadSnapshot({ snapshot_path: "x", mem_backend: { backend_type: "File", backend_path: "y" } }))).faultMessage).toMatch(
      /not allowed after the microVM has started/,
    );
  });

  it("loads a snapshot only on a fresh process, with exactly one memory source", async () => {
    const booted = await startDouble(version);
    await bootMinimal(booted);
    await booted.patchVm({ state: "Paused" });
    const snap = join(work, `vmstate-${version}`);
    const mem = join(work, `mem-${version}`);
    await booted.createSnapshot({ snapshot_path: snap, mem_file_path: mem, snapshot_type: "Full" });

    const configured = await startDouble(version);
    await configured.putMachineConfig({ vcpu_count: 1, mem_size_mib: 64 });
    expect((await refusal(configured.loadSnapshot({ snapshot_path: snap, mem_backend: { backend_type: "File", backend_path: mem } }))).faultMessage).toMatch(
      /after configuring boot-specific resources/,
    );

    const fresh = await startDouble(version);
    expect(
      (await refusal(fresh.loadSnapshot({ snapshot_path: snap, mem_file_path: mem, mem_backend: { backend_type: "File", backend_path: mem } }))).faultMessage,
    ).toMatch(/exactly one of mem_backend and mem_file_path/);
    expect(
      (await refusal(fresh.loadSnapshot({ snapshot_path: snap, mem_backend: { backend_type: "File", backend_path: join(work, "nope") } }))).faultMessage,
    ).toMatch(/memory backing file/);
    await fresh.loadSnapshot({ snapshot_path: snap, mem_backend: { backend_type: "File", backend_path: mem }, resume_vm: true });
    expect((await fresh.describeInstance()).state).toBe("Running");
    expect((await refusal(fresh.loadSnapshot({ snapshot_path: snap, mem_backend: { backend_type: "File", backend_path: mem } }))).faultMessage).toMatch(
      /not allowed after the microVM has started/,
    );
  });

  it("refuses unknown paths and methods like Firecracker", async () => {
    const c = await startDouble(version);
    const e = await refusal((c as unknown as { call(m: string, p: string): Promise<void> }).call("PUT", "/no-such-thing"));
    expect(e.faultMessage).toMatch(/Invalid request method and\/or path/);
    expect(e.message).toContain("PUT /no-such-thing failed (400)");
  });
});

describe.skipIf(skip)("spec differences between v1.13.1 and v1.16.1", () => {
  it("network interface mtu exists only in v1.16.1", async () => {
    const old = await startDouble("1.13.1");
    const iface = { iface_id: "eth0", host_dev_name: "lo", mtu: 1500 };
    expect((await refusal(old.putNetworkInterface(iface))).faultMessage).toMatch(/additional properties 'mtu'/);
    const current = await startDouble("1.16.1");
    await expect(current.putNetworkInterface(iface)).resolves.toBeUndefined();
  });

  it("snapshot/load clock_realtime and vsock_override exist only in v1.16.1; both accept track_dirty_pages and network_overrides", async () => {
    const body = { snapshot_path: join(work, "none"), mem_backend: { backend_type: "File" as const, backend_path: "m" }, clock_realtime: true };
    const old = await startDouble("1.13.1");
    expect((await refusal(old.loadSnapshot(body))).faultMessage).toMatch(/additional properties 'clock_realtime'/);
    expect((await refusal(old.loadSnapshot({ ...body, clock_realtime: undefined, vsock_override: { uds_path: "v" } }))).faultMessage).toMatch(
      /additional properties 'vsock_override'/,
    );
    const current = await startDouble("1.16.1");
    // Valid per v1.16.1: the refusal now comes from the missing snapshot file, not the schema.
    expect((await refusal(current.loadSnapshot(body))).faultMessage).toMatch(/Cannot deserialize the microVM state/);
    for (const v of ["1.13.1", "1.16.1"] as const) {
      const c = await startDouble(v);
      const e = await refusal(
        c.loadSnapshot({
          snapshot_path: join(work, "none"),
          mem_backend: { backend_type: "Uffd", backend_path: "u" },
          track_dirty_pages: true,
          network_overrides: [{ iface_id: "eth0", host_dev_name: "tap1" }],
        }),
      );
      expect(e.faultMessage).toMatch(/Cannot deserialize the microVM state/);
    }
  });
});
