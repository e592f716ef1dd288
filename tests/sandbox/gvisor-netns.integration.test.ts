// The gVisor driver's "netns" mode against the real runsc: every sandbox in a network namespace of
// its own (veth pair on its own /30), runsc's netstack holding that address; the function answers
// over TCP from the node and from a pod-like namespace routed through the node; a restored sandbox
// gets a namespace (and address) of its own; stop, reclaim and a successor driver's sweep remove
// every namespace and host link.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import { VethNetworks, type VethNetwork } from "#node-runtime/network/veth-networks.js";
import type { BootRequest, SandboxHandle } from "#node-runtime/sandbox/driver.js";
import { GvisorDriver } from "#node-runtime/sandbox/gvisor/driver.js";
import { gvisorUnavailable, leftovers, loadHelloworld, sayHello, type HelloworldStore } from "./gvisor/helloworld-fixture.js";

const unavailable = gvisorUnavailable();
if (unavailable) console.warn(`gVisor netns tests skipped: ${unavailable}`);

const BASE = `/run/vhgn-t${process.pid}`;
// Namespace and link names of this run only (prefixes are at most 7 characters).
const TAG = String(process.pid % 10_000);
const PREFIX = `vgn${TAG}`;
const POD_PREFIX = `vgp${TAG}`;
// A block of its own, apart from the other tests' 10.151-10.155 and 10.213.
const SUBNET = `10.156.${process.pid % 250}.0/26`;
const POD_SUBNET = `10.157.${process.pid % 250}.0/30`;

let hw: HelloworldStore;
let driver: GvisorDriver;
let snapshotRoot: string;

function request(instanceId: string): BootRequest {
  return { instanceId, revision: "hello-net", imageDigest: hw.image.digest, image: hw.image.config, port: hw.port, vcpus: 1, memoryMiB: 256 };
}

function ours(): { namespaces: string[]; links: string[] } {
  const namespaces = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith(`${PREFIX}-`));
  const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0] ?? "")
    .filter((n) => n.startsWith(`${PREFIX}h`));
  return { namespaces, links };
}

async function expectNothingLeft(): Promise<void> {
  expect(await leftovers(BASE)).toEqual({ containers: [], processes: [], mounts: [], files: [] });
  expect(ours()).toEqual({ namespaces: [], links: [] });
}

/** A TCP exchange with the function from inside another namespace (a pod's, routed via the node). */
function tcpFromNamespace(netns: string, host: string, port: number): string {
  // gRPC over HTTP/2 answers a client preface with a SETTINGS frame: proof the function itself answered.
  const code = [
    "import socket,sys",
    "s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5)",
    "s.sendall(b'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n'+bytes([0,0,0,4,0,0,0,0,0]))",
    "d=s.recv(9)",
    "print('settings' if len(d)==9 and d[3]==4 else 'other:'+d.hex())",
  ].join("\n");
  const r = spawnSync("ip", ["netns", "exec", netns, "python3", "-c", code, host, String(port)], { encoding: "utf8", timeout: 15_000 });
  return (r.stdout + r.stderr).trim();
}

describe.skipIf(unavailable !== undefined)("gVisor driver in network namespaces of its own (real runsc)", () => {
  const started: SandboxHandle[] = [];
  let pods: VethNetworks;
  let pod: VethNetwork | undefined;

  beforeAll(async () => {
    hw = await loadHelloworld();
    driver = new GvisorDriver(hw.store, { baseDir: BASE, network: "netns", networkSubnet: SUBNET, networkPrefix: PREFIX });
    snapshotRoot = await mkdtemp("/var/tmp/vhgn-snap-");
    // The stand-in for a pod network: a namespace whose default route is the node (as a CNI bridge's pods have).
    pods = new VethNetworks({ subnet: POD_SUBNET, prefix: POD_PREFIX, label: "test pod network" });
    pod = await pods.acquire();
  });

  afterAll(async () => {
    for (const h of started) await driver?.stop(h).catch(() => undefined);
    if (pod) await pods.release(pod);
    await rm(BASE, { recursive: true, force: true });
    if (snapshotRoot) await rm(snapshotRoot, { recursive: true, force: true });
    await hw?.dispose();
  });

  it("refuses bad network options, naming them", () => {
    expect(() => new GvisorDriver(hw.store, { baseDir: BASE, network: "netns", networkPrefix: "Bad-Prefix" })).toThrow(
      /gVisor driver network prefix "Bad-Prefix" must be/,
    );
    expect(() => new GvisorDriver(hw.store, { baseDir: BASE, network: "netns", networkSubnet: "10.0.0.1/24" })).toThrow(
      /gVisor driver network subnet "10.0.0.1\/24" is not aligned/,
    );
    expect(new GvisorDriver(hw.store, { baseDir: BASE, network: "netns" }).capabilities.needsNetwork).toBe(false);
  });

  it("boots into a namespace of its own, answers over TCP from the node and from a pod's namespace, and stop removes the namespace", async () => {
    const support = await driver.netstackSupport();
    expect(support).toEqual({ supported: true });
    const timer = new StageTimer();
    const h = await driver.boot(request("nb1"), timer);
    started.push(h);
    expect(h.endpoint.kind).toBe("tcp");
    if (h.endpoint.kind !== "tcp") return;
    expect(h.endpoint.port).toBe(hw.port);
    expect(ours().namespaces).toHaveLength(1);
    expect(await sayHello(h.endpoint, "netns")).toBe("Hello, netns!");
    expect(tcpFromNamespace(pod!.netns, h.endpoint.host, h.endpoint.port)).toBe("settings");
    // the relay's host socket works as well
    expect(await sayHello({ kind: "unix", path: `${BASE}/instances/nb1/sock/fn.sock` }, "unix")).toBe("Hello, unix!");
    // a second sandbox: another namespace, another address, the same port
    const other = await driver.boot(request("nb2"), new StageTimer());
    started.push(other);
    expect(other.endpoint.kind === "tcp" && other.endpoint.host).not.toBe(h.endpoint.host);
    expect(await sayHello(other.endpoint, "second")).toBe("Hello, second!");
    expect(ours().namespaces).toHaveLength(2);
    await driver.stop(h);
    await driver.stop(other);
    await expectNothingLeft();
  });

  it("snapshots a sandbox and restores it into a fresh namespace with its own address, twice at once", async () => {
    const source = await driver.boot(request("ns-src"), new StageTimer());
    started.push(source);
    expect(await sayHello(source.endpoint, "before")).toBe("Hello, before!");
    const dir = await mkdtemp(path.join(snapshotRoot, "net-"));
    await driver.snapshot(source, dir);
    await driver.stop(source);
    expect(ours().namespaces).toEqual([]);
    const restored = await Promise.all(
      ["ns-r1", "ns-r2"].map((id) => driver.restore({ ...request(id), snapshotDir: dir, memory: { kind: "file" } }, new StageTimer())),
    );
    started.push(...restored);
    const hosts = restored.map((h) => (h.endpoint.kind === "tcp" ? h.endpoint.host : ""));
    expect(new Set(hosts).size).toBe(2);
    expect(ours().namespaces).toHaveLength(2);
    expect(await Promise.all(restored.map((h) => sayHello(h.endpoint, h.instanceId)))).toEqual(["Hello, ns-r1!", "Hello, ns-r2!"]);
    expect(tcpFromNamespace(pod!.netns, hosts[0]!, hw.port)).toBe("settings");
    for (const h of restored) await driver.stop(h);
    await expectNothingLeft();
  });

  it("a killed sandbox's namespace goes with stop; a function that binds only 127.0.0.1 fails with a clear error", async () => {
    const h = await driver.boot(request("ns-killed"), new StageTimer());
    started.push(h);
    process.kill(h.pid as number, "SIGKILL");
    expect(await h.exited).toEqual({ code: null, signal: "SIGKILL" });
    await driver.stop(h);
    await expectNothingLeft();
    const quick = new GvisorDriver(hw.store, { baseDir: BASE, network: "netns", networkSubnet: SUBNET, networkPrefix: PREFIX, bootTimeoutMs: 4_000 });
    const loopbackOnly =
      "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',50051))\ns.listen()\nprint('bound to loopback',flush=True)\ntime.sleep(600)";
    const image = { ...hw.image.config, entrypoint: ["/usr/bin/python3", "-c", loopbackOnly], cmd: [] };
    await expect(quick.boot({ ...request("ns-lo"), image }, new StageTimer())).rejects.toThrow(
      /the function listens on port 50051 inside its sandbox but did not answer at 10\.156\.[\d.]+:50051 within 4000 ms \(does it bind only 127\.0\.0\.1\?\)[\s\S]*bound to loopback/,
    );
    await expectNothingLeft();
  });

  it("a successor driver reclaims an adopted instance's namespace, and sweeps namespaces no instance uses", async () => {
    const h = await driver.boot(request("ns-orphan"), new StageTimer());
    started.push(h);
    // What a runtime that crashed mid-start leaves: a namespace of this layout and no instance.
    const stray = new VethNetworks({ subnet: SUBNET, prefix: PREFIX, label: "test" });
    const leaked = await stray.acquire();
    expect(ours().namespaces).toContain(leaked.netns);
    expect(ours().namespaces).toHaveLength(2);
    const successor = new GvisorDriver(hw.store, { baseDir: BASE, network: "netns", networkSubnet: SUBNET, networkPrefix: PREFIX });
    // its first start sweeps the stray namespace but keeps the adopted instance's
    const fresh = await successor.boot(request("ns-fresh"), new StageTimer());
    started.push(fresh);
    // The stray block was deleted and is free again: the new sandbox has it (a successor that had
    // not swept would skip a namespace that exists and take the next block).
    expect(fresh.endpoint).toEqual({ kind: "tcp", host: leaked.containerIp, port: hw.port });
    expect(ours().namespaces).toHaveLength(2);
    expect(await sayHello(fresh.endpoint, "fresh")).toBe("Hello, fresh!");
    expect(await sayHello(h.endpoint, "adopted")).toBe("Hello, adopted!");
    await successor.reclaim("ns-orphan");
    expect(await h.exited).toEqual({ code: null, signal: "SIGKILL" });
    await successor.stop(fresh);
    await expectNothingLeft();
  });
});
