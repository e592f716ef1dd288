// Shared by the gVisor tests and the boot-vs-restore measurement: the real helloworld image in a
// private image store, a Greeter client for Unix or TCP endpoints, and a leak check.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import type { StoredImage } from "#node-runtime/images/types.js";
import type { FunctionEndpoint } from "#node-runtime/sandbox/driver.js";
import { ensureHelloworldImage } from "#tests/fixtures/helloworld.js";
import { runtimeSource, useRuntimes } from "#tests/fixtures/upstream-runtimes.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.join(here, "..", "..", "..", "node-runtime", "api", "protos", "helloworld.proto");

/**
 * Why the real-runsc tests cannot run here, or undefined when they can. Puts the upstream runsc
 * first on this process's PATH (Debian's stays with VHIVE_RUNTIMES=debian), where the driver and
 * every runsc call of the tests find it.
 */
export function gvisorUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "runsc needs root";
  const unavailable = useRuntimes("runsc");
  if (unavailable) return unavailable;
  try {
    execFileSync("runsc", ["--version"], { stdio: "ignore" });
  } catch {
    return `${runtimeSource()} runsc is not installed`;
  }
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
  } catch {
    return "no C compiler to build the relay";
  }
  return undefined;
}

export interface HelloworldStore {
  store: LocalImageStore;
  image: StoredImage;
  port: number;
  dispose: () => Promise<void>;
}

/** vHive's helloworld (tests/fixtures/helloworld.ts) loaded into a throwaway image store. */
export async function loadHelloworld(): Promise<HelloworldStore> {
  const fixture = await ensureHelloworldImage();
  const root = await mkdtemp("/var/tmp/vhgv-images-");
  const store = new LocalImageStore({ root });
  const image = await store.loadOciLayout(fixture.layoutDir, fixture.ref);
  return { store, image, port: fixture.port, dispose: () => rm(root, { recursive: true, force: true }) };
}

type GreeterClient = grpc.Client & {
  SayHello(req: { name: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply?: { message: string }) => void): void;
};
let greeterCtor: (new (address: string, creds: grpc.ChannelCredentials) => GreeterClient) | undefined;

function greeter(): new (address: string, creds: grpc.ChannelCredentials) => GreeterClient {
  if (!greeterCtor) {
    const def = protoLoader.loadSync(PROTO);
    const pkg = grpc.loadPackageDefinition(def) as unknown as { helloworld: { Greeter: typeof greeterCtor } };
    greeterCtor = pkg.helloworld.Greeter;
  }
  return greeterCtor as NonNullable<typeof greeterCtor>;
}

export function endpointAddress(endpoint: FunctionEndpoint): string {
  return endpoint.kind === "unix" ? `unix://${endpoint.path}` : `${endpoint.host}:${endpoint.port}`;
}

/** One SayHello over a fresh channel (closed afterwards, so the relay's connection ends too). */
export async function sayHello(endpoint: FunctionEndpoint, name: string, timeoutMs = 10_000): Promise<string> {
  const Ctor = greeter();
  const client = new Ctor(endpointAddress(endpoint), grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) => {
      client.SayHello({ name }, { deadline: Date.now() + timeoutMs }, (err, reply) => (err ? reject(err) : resolve(reply?.message ?? "")));
    });
  } finally {
    client.close();
  }
}

/** Everything a driver with this base dir may leave behind; empty lists mean nothing leaked. */
export async function leftovers(baseDir: string): Promise<{ containers: string[]; processes: string[]; mounts: string[]; files: string[] }> {
  const runscRoot = path.join(baseDir, "runsc");
  let containers: string[] = [];
  if (existsSync(runscRoot)) {
    const out = execFileSync("runsc", [`--root=${runscRoot}`, "list", "--format=json"], { encoding: "utf8" }).trim();
    containers = out && out !== "null" ? (JSON.parse(out) as { id: string }[]).map((c) => c.id) : [];
  }
  const processes: string[] = [];
  for (const name of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
    const cmd = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(baseDir)) processes.push(`${name}: ${cmd.replaceAll("\0", " ").slice(0, 160)}`);
  }
  const mounts = (await readFile("/proc/self/mountinfo", "utf8")).split("\n").filter((l) => l.includes(baseDir));
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else files.push(p);
    }
  };
  await walk(baseDir);
  return { containers, processes, mounts, files };
}
