// TEST DOUBLE: stands in for the upstream `firecracker` VMM process (v1.13.1 or v1.16.1) where no
// Firecracker binary and no bootable KVM exist. It serves the API on the Unix socket given by
// `--api-sock` like Firecracker does, validates every request body against the official swagger
// spec (tests/doubles/firecracker/spec-validator.ts) and enforces Firecracker's state machine:
// pre-boot configuration only before InstanceStart, PATCH /vm only after start, snapshot/create only
// while Paused, snapshot/load only on a fresh process. Refusals are Firecracker-shaped: HTTP 400 with
// `{"fault_message": …}`. It checks what Firecracker would open (kernel, drive files, tap device in
// its network namespace, the UFFD handler socket) and writes the snapshot files a request names.
// It does NOT run a guest: no kernel boots, no guest memory exists; the memory file it writes is a
// sparse file of the configured size. With Uffd it connects to the handler and sends the region
// mappings as JSON, but it cannot pass a userfaultfd descriptor.
//
// Usage: firecracker-double.ts --spec-version 1.16.1 [--record file.jsonl] --api-sock <path> [--id x]
// [--chroot-root <dir>] (other Firecracker flags the jailer passes are accepted and ignored).
// `--chroot-root` comes from the jailer double: paths then resolve as inside that chroot.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { appendFileSync, existsSync, openSync, closeSync, ftruncateSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type {
  FirecrackerApiVersion,
  MachineConfiguration,
  BootSource,
  Drive,
  NetworkInterface,
  SnapshotCreateParams,
  SnapshotLoadParams,
} from "#node-runtime/sandbox/firecracker/api-types.js";
import { FirecrackerSpec } from "./spec-validator.js";

type VmmState = "Not started" | "Running" | "Paused";

/** What the double writes as `snapshot_path`: enough for its own load to check what Firecracker would. */
export interface DoubleVmState {
  double: "firecracker-double";
  specVersion: FirecrackerApiVersion;
  snapshotType: "Full" | "Diff";
  machine: MachineConfiguration;
  drives: Drive[];
  networkInterfaces: NetworkInterface[];
}

class Refusal extends Error {}

/** Set by the jailer double: the directory that is "/" for this process. */
let chrootRoot: string | undefined;

/** Where a path Firecracker was given lives on the host (a chroot maps absolute paths). */
function hostPath(p: string): string {
  return chrootRoot !== undefined && isAbsolute(p) ? join(chrootRoot, p) : p;
}

export class FirecrackerDouble {
  private state: VmmState = "Not started";
  /** Anything configured (other than logger/metrics) makes the process unfit for snapshot/load. */
  private configured = false;
  private loaded = false;
  private machine: MachineConfiguration = { vcpu_count: 1, mem_size_mib: 128, smt: false, track_dirty_pages: false };
  private bootSource: BootSource | undefined;
  private readonly drives = new Map<string, Drive>();
  private readonly nets = new Map<string, NetworkInterface>();

  constructor(
    private readonly spec: FirecrackerSpec,
    private readonly id: string,
    private readonly recordPath: string | undefined,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await new Promise<string>((ok) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => ok(Buffer.concat(chunks).toString("utf8")));
    });
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    let status = 204;
    let answer: unknown;
    const match = this.spec.check(method, path, raw);
    if (!match.ok) {
      status = match.status;
      answer = { fault_message: match.faultMessage };
    } else {
      try {
        answer = await this.apply(method, match.template, match.params, match.body);
        status = answer === undefined ? 204 : 200;
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        status = 400;
        answer = { fault_message: e.message };
      }
    }
    if (this.recordPath !== undefined) {
      appendFileSync(this.recordPath, JSON.stringify({ method, path, body: raw.length > 0 ? JSON.parse(safeJson(raw)) : null, status }) + "\n");
    }
    const text = answer === undefined ? "" : JSON.stringify(answer);
    res.writeHead(status, text ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) } : {});
    res.end(text);
  }

  private preBoot(what: string): void {
    if (this.state !== "Not started") {
      throw new Refusal(`The requested operation is not supported after starting the microVM (${what}).`);
    }
  }

  private postBoot(what: string): void {
    if (this.state === "Not started") {
      throw new Refusal(`The requested operation is not supported before starting the microVM (${what}).`);
    }
  }

  private async apply(method: string, template: string, params: Record<string, string>, body: unknown): Promise<unknown> {
    const key = `${method} ${template}`;
    switch (key) {
      case "GET /":
        return { app_name: "Firecracker", id: this.id, state: this.state, vmm_version: this.spec.version };
      case "GET /version":
        return { firecracker_version: this.spec.version };
      case "GET /machine-config":
        return this.machine;
      case "PUT /logger":
      case "PUT /metrics":
        this.preBoot(template);
        return undefined;
      case "PUT /machine-config": {
        this.preBoot(template);
        const m = (body ?? {}) as MachineConfiguration;
        if (m.smt === true && m.vcpu_count > 1 && m.vcpu_count % 2 === 1) {
          throw new Refusal("The vCPU number is invalid! The vCPU number can only be 1 or an even number when SMT is enabled.");
        }
        if (m.mem_size_mib < 1) throw new Refusal("The memory size (MiB) is invalid.");
        this.machine = { smt: false, track_dirty_pages: false, ...m };
        this.configured = true;
        return undefined;
      }
      case "PUT /boot-source": {
        this.preBoot(template);
        const b = body as BootSource;
        // Firecracker opens the kernel (and initrd) when the boot source is set.
        if (!isFile(hostPath(b.kernel_image_path))) throw new Refusal(`The kernel file cannot be opened: No such file or directory (os error 2)`);
        if (b.initrd_path !== undefined && !isFile(hostPath(b.initrd_path)))
          throw new Refusal(`The initrd file cannot be opened due to invalid path or invalid permissions. No such file or directory (os error 2)`);
        this.bootSource = b;
        this.configured = true;
        return undefined;
      }
      case "PUT /drives/{drive_id}": {
        this.preBoot(template);
        const d = body as Drive;
        if (d.drive_id !== params.drive_id) throw new Refusal(`The id from the path [${params.drive_id}] does not match the id from the body [${d.drive_id}]!`);
        if (d.path_on_host === undefined) throw new Refusal("Unable to create the virtio block device: path_on_host is required for virtio-block.");
        if (!isFile(hostPath(d.path_on_host)))
          throw new Refusal(
            `Unable to create the block device: BackingFile(Os { code: 2, kind: NotFound, message: "No such file or directory" }, "${d.path_on_host}")`,
          );
        if (d.is_root_device && [...this.drives.values()].some((o) => o.is_root_device && o.drive_id !== d.drive_id)) {
          throw new Refusal("A root block device already exists!");
        }
        this.drives.set(d.drive_id, d);
        this.configured = true;
        return undefined;
      }
      case "PUT /network-interfaces/{iface_id}": {
        this.preBoot(template);
        const n = body as NetworkInterface;
        if (n.iface_id !== params.iface_id) throw new Refusal(`The id from the path [${params.iface_id}] does not match the id from the body [${n.iface_id}]!`);
        // Under the jailer Firecracker runs unprivileged and can only open a tap that already exists
        // in its network namespace; the double checks that (its /sys/class/net is the namespace's).
        if (!existsSync(`/sys/class/net/${n.host_dev_name}`)) {
          throw new Refusal(
            `Could not create the network device: Open tap device failed: Error while creating ifreq structure: No such device. Invalid TUN/TAP Backend provided by ${n.host_dev_name}.`,
          );
        }
        if (n.guest_mac !== undefined && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(n.guest_mac)) {
          throw new Refusal(`Invalid guest MAC address: ${n.guest_mac}`);
        }
        this.nets.set(n.iface_id, n);
        this.configured = true;
        return undefined;
      }
      case "PUT /actions": {
        const action = (body as { action_type: string }).action_type;
        if (action === "InstanceStart") {
          this.preBoot("InstanceStart");
          if (this.bootSource === undefined) throw new Refusal("Cannot start microvm without kernel configuration.");
          this.state = "Running";
          return undefined;
        }
        if (action === "FlushMetrics") return undefined;
        this.postBoot(action);
        return undefined;
      }
      case "PATCH /vm": {
        this.postBoot("PATCH /vm");
        const target = (body as { state: "Paused" | "Resumed" }).state;
        this.state = target === "Paused" ? "Paused" : "Running";
        return undefined;
      }
      case "PUT /snapshot/create":
        this.postBoot("snapshot/create");
        return this.createSnapshot(body as SnapshotCreateParams);
      case "PUT /snapshot/load":
        return this.loadSnapshot(body as SnapshotLoadParams);
      default:
        // Valid per spec but outside what the double models (balloon, mmds, vsock, …).
        throw new Refusal(`firecracker-double does not model ${key}`);
    }
  }

  private createSnapshot(p: SnapshotCreateParams): undefined {
    if (this.state !== "Paused") throw new Refusal("Create snapshot error: Cannot save the microVM state: the microVM must be paused.");
    const type = p.snapshot_type ?? "Full";
    if (type === "Diff" && this.machine.track_dirty_pages !== true) {
      // Conservative: releases before the mincore fallback refuse this; the driver always enables tracking for Diff.
      throw new Refusal("Create snapshot error: Diff snapshots are not enabled (track_dirty_pages is false).");
    }
    for (const path of [p.snapshot_path, p.mem_file_path]) {
      if (!existsSync(dirname(resolve(hostPath(path)))))
        throw new Refusal(`Create snapshot error: Cannot open snapshot file: No such file or directory (os error 2): ${path}`);
    }
    const vmstate: DoubleVmState = {
      double: "firecracker-double",
      specVersion: this.spec.version,
      snapshotType: type,
      machine: this.machine,
      drives: [...this.drives.values()],
      networkInterfaces: [...this.nets.values()],
    };
    writeFileSync(hostPath(p.snapshot_path), JSON.stringify(vmstate));
    // Full: every page (a sparse file of the memory size stands in); Diff: only dirty pages, written
    // in place at their offsets, so the file keeps the memory size and gets one marked page.
    // Diff writes into an existing file without truncating it (dirty pages land on top of the base).
    const fd = openSync(hostPath(p.mem_file_path), type === "Diff" && existsSync(hostPath(p.mem_file_path)) ? "r+" : "w");
    try {
      ftruncateSync(fd, this.machine.mem_size_mib * 1024 * 1024);
      if (type === "Diff") writeSync(fd, Buffer.from("diff-page"), 0, 9, 4096);
    } finally {
      closeSync(fd);
    }
    return undefined;
  }

  private async loadSnapshot(p: SnapshotLoadParams): Promise<undefined> {
    if (this.state !== "Not started" || this.loaded) throw new Refusal("Loading a microVM snapshot not allowed after the microVM has started.");
    if (this.configured) throw new Refusal("Loading a microVM snapshot not allowed after configuring boot-specific resources.");
    if ((p.mem_backend === undefined) === (p.mem_file_path === undefined)) {
      throw new Refusal("Load snapshot error: exactly one of mem_backend and mem_file_path must be given.");
    }
    if (p.enable_diff_snapshots !== undefined && p.track_dirty_pages !== undefined) {
      throw new Refusal("Load snapshot error: enable_diff_snapshots is deprecated; give only track_dirty_pages.");
    }
    let vmstate: DoubleVmState;
    try {
      vmstate = JSON.parse(readFileSync(hostPath(p.snapshot_path), "utf8")) as DoubleVmState;
    } catch (e) {
      throw new Refusal(`Load snapshot error: Cannot deserialize the microVM state: ${(e as Error).message}`);
    }
    if (vmstate.double !== "firecracker-double") throw new Refusal("Load snapshot error: snapshot file is not a microVM state.");
    const memBytes = vmstate.machine.mem_size_mib * 1024 * 1024;
    const backend = p.mem_backend ?? { backend_type: "File" as const, backend_path: p.mem_file_path ?? "" };
    if (backend.backend_type === "File") {
      if (!isFile(hostPath(backend.backend_path)))
        throw new Refusal(`Load snapshot error: Failed to open memory backing file: No such file or directory (os error 2)`);
      const size = statSync(hostPath(backend.backend_path)).size;
      if (size < memBytes) throw new Refusal(`Load snapshot error: memory file is ${size} bytes, the snapshot needs ${memBytes}.`);
    }
    // Firecracker reopens every device the snapshot names: the same drive paths and tap names.
    for (const d of vmstate.drives) {
      if (d.path_on_host !== undefined && !isFile(hostPath(d.path_on_host))) {
        throw new Refusal(`Load snapshot error: Failed to restore block device: ${d.path_on_host}: No such file or directory (os error 2)`);
      }
    }
    for (const n of vmstate.networkInterfaces) {
      const tap = p.network_overrides?.find((o) => o.iface_id === n.iface_id)?.host_dev_name ?? n.host_dev_name;
      if (!existsSync(`/sys/class/net/${tap}`)) throw new Refusal(`Load snapshot error: Failed to restore network device: Open tap device failed: ${tap}`);
    }
    if (backend.backend_type === "Uffd") await this.greetUffdHandler(hostPath(backend.backend_path), memBytes);
    this.machine = { ...vmstate.machine, track_dirty_pages: p.track_dirty_pages ?? p.enable_diff_snapshots ?? false };
    for (const d of vmstate.drives) this.drives.set(d.drive_id, d);
    for (const n of vmstate.networkInterfaces) this.nets.set(n.iface_id, n);
    this.loaded = true;
    this.state = p.resume_vm === true ? "Running" : "Paused";
    return undefined;
  }

  /**
   * Firecracker connects to the handler and sends the guest regions (plus the uffd, which we cannot).
   * `page_size_kib` carries bytes despite its name, as Firecracker sends it.
   */
  private greetUffdHandler(path: string, memBytes: number): Promise<void> {
    return new Promise((ok, fail) => {
      const sock = connect(path);
      sock.once("error", (e) =>
        fail(new Refusal(`Load snapshot error: Cannot connect to UDS in order to send information on handling guest memory page-faults: ${e.message}`)),
      );
      sock.once("connect", () => {
        const regions = [{ base_host_virt_addr: 0x7f0000000000, size: memBytes, offset: 0, page_size: 4096, page_size_kib: 4096 }];
        sock.end(JSON.stringify(regions), () => ok());
      });
    });
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function safeJson(raw: string): string {
  try {
    JSON.parse(raw);
    return raw;
  } catch {
    return JSON.stringify(raw);
  }
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const version = (argValue(args, "--spec-version") ?? "1.16.1") as FirecrackerApiVersion;
  chrootRoot = argValue(args, "--chroot-root");
  const sock = hostPath(argValue(args, "--api-sock") ?? "/run/firecracker.socket");
  if (existsSync(sock)) {
    process.stderr.write(`Failed to open the API socket at: ${sock}. Check that it is not already used.\n`);
    process.exit(1);
  }
  const double = new FirecrackerDouble(new FirecrackerSpec(version), argValue(args, "--id") ?? "anonymous-instance", argValue(args, "--record"));
  const server = createServer((req, res) => {
    double.handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ fault_message: `double internal error: ${String(e)}` }));
    });
  });
  // Like Firecracker, SIGTERM ends the process without removing the socket: cleaning up is the caller's job.
  server.listen(sock);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  await main();
}
