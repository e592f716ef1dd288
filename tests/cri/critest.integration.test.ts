import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUSYBOX, CRITEST_IMAGES, buildCritestImages, layoutContent } from "../fixtures/critest-images.js";
import { upstreamBinDir, useRuntimes } from "../fixtures/upstream-runtimes.js";
import { TestRegistry } from "../images/test-registry.js";
import { skipReason } from "../requirements.js";
import { CRI_SPEC } from "../upstream-specs.js";
import { PrivateContainerd } from "./private-containerd.js";
import { critestOutcomes, compareRuns, type RunComparison } from "./critest-report.js";

// cri-tools' conformance suite (critest) run twice on the same upstream containerd: against its CRI
// socket directly, then through the node runtime's CRI front end (`node-runtime serve`, proxying to
// that containerd). The proxy must change nothing a CRI client can see, so every spec must end the
// same way both times. Every image critest pulls is a local stand-in (tests/fixtures/critest-images.ts)
// served by a loopback registry, to which containerd's hosts.toml mirrors send registry.k8s.io and
// gcr.io. Writes bench/results/critest.json.

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSX = path.join(REPO, "node_modules/.bin/tsx");
const MAIN = path.join(REPO, "node-runtime/cli/main.ts");
const RESULT = path.join(REPO, "bench/results/critest.json");

// Specs that cannot run on this machine, skipped in both runs (a ginkgo regular expression each).
const SKIPPED_HERE: { pattern: string; why: string }[] = [];

/** The tool cache's bin directory of a tool already built (none is built here: cri-tools takes minutes). */
function cachedTool(tool: string, binary: string): string | undefined {
  const cache = process.env.VHIVE_TOOLS_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "vhive-tools");
  if (!existsSync(cache)) return undefined;
  const entry = readdirSync(cache).find((e) => e.startsWith(`${tool}-`) && !e.endsWith(".partial") && existsSync(path.join(cache, e, "bin", binary)));
  return entry && path.join(cache, entry, "bin");
}

/** critest from the tool cache, also when VHIVE_RUNTIMES=debian leaves the PATH as it is. */
const critestBinary = () => path.join(cachedTool("cri-tools", "critest") ?? "", "critest");

function unavailable(): string | undefined {
  if (!cachedTool("cri-tools", "critest")) return "critest is not in the tool cache (bash scripts/tools/build.sh cri-tools)";
  if (!cachedTool("containerd", "containerd")) return "containerd is not in the tool cache (bash scripts/tools/build.sh containerd)";
  if (!cachedTool("cni-plugins", "bridge")) return "the CNI plugins are not in the tool cache (bash scripts/tools/build.sh cni-plugins)";
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} is missing (Debian package busybox-static), the base of the stand-in images`;
  return useRuntimes("containerd", "runc", "runsc", "cri-tools", "cni-plugins");
}

const skip = skipReason("critest.test", {
  root: "a private containerd with a CNI bridge",
  commands: ["umoci", "gcc"],
  specs: [CRI_SPEC],
  unavailable: unavailable(),
});

const run = promisify(execFile);
const id = `ct${process.pid}`;
const slot = 100 + (process.pid % 100);
let registry: TestRegistry;
let containerd: PrivateContainerd;
let nodeRuntime: ChildProcess | undefined;
let nodeRuntimeLog = "";

const hostsRoot = () => `${containerd.root}-hosts`;
const criSocket = () => `${containerd.state}/vhive-cri.sock`;

async function startNodeRuntime(): Promise<void> {
  const root = `${containerd.root}/node-runtime`;
  await mkdir(root, { recursive: true });
  const config = `${root}/config.yaml`;
  await writeFile(
    config,
    [
      `dataDir: ${JSON.stringify(`${root}/data`)}`,
      `imageDir: ${JSON.stringify(`${root}/images`)}`,
      `gvisorBaseDir: ${JSON.stringify(`${containerd.state}/gvisor`)}`,
      `criSocket: ${JSON.stringify(criSocket())}`,
      `criUpstream: ${JSON.stringify(containerd.socket)}`,
      `criStateFile: ${JSON.stringify(`${root}/cri-state.json`)}`,
      "sandbox: gvisor",
      "",
    ].join("\n"),
  );
  const proc = spawn(TSX, [MAIN, "serve", "--config", config, "--socket", `${containerd.state}/node-runtime.sock`, "--log-level", "warn"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  nodeRuntime = proc;
  const keep = (d: Buffer) => (nodeRuntimeLog = (nodeRuntimeLog + d.toString()).slice(-20_000));
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  for (const deadline = Date.now() + 60_000; !existsSync(criSocket()); ) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`node runtime did not serve ${criSocket()}:\n${nodeRuntimeLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One critest run against `socket`; returns each spec's outcome by its full name. */
async function critest(socket: string, label: string): Promise<Map<string, string>> {
  const report = `${containerd.root}/critest-${label}.json`;
  const args = [
    `--runtime-endpoint=unix://${socket}`,
    `--image-endpoint=unix://${socket}`,
    `--ginkgo.json-report=${report}`,
    "--ginkgo.no-color",
    "--ginkgo.succinct",
    ...(SKIPPED_HERE.length > 0 ? [`--ginkgo.skip=${SKIPPED_HERE.map((s) => s.pattern).join("|")}`] : []),
  ];
  const log = `${containerd.root}/critest-${label}.log`;
  const code = await new Promise<number | null>((resolve, reject) => {
    const proc = spawn(critestBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const keep = (d: Buffer) => (out += d.toString());
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    proc.on("error", reject);
    proc.on("exit", (c) => void writeFile(log, out).then(() => resolve(c), reject));
  });
  if (!existsSync(report)) throw new Error(`critest (${label}) exited with ${code} and wrote no report; its output is in ${log}`);
  return critestOutcomes(JSON.parse(await readFile(report, "utf8")));
}

beforeAll(async () => {
  if (skip !== undefined) return;
  registry = new TestRegistry({ auth: "none" });
  await registry.start();
  const content = await layoutContent(await buildCritestImages());
  for (const image of CRITEST_IMAGES) {
    const digest = content.tags.get(image.layoutTag);
    if (digest === undefined) throw new Error(`stand-in layout has no tag ${image.layoutTag}`);
    registry.add(image.repo, content.blobs, { [image.tag]: digest });
  }

  const cni = upstreamBinDir("cni-plugins");
  if ("skip" in cni) throw new Error(cni.skip);
  containerd = new PrivateContainerd(id, { cniBinDir: cni.dir, registryConfigPath: `/var/lib/vhcri-${id}-hosts` });
  // Every registry critest names is mirrored to the loopback registry (plain HTTP, pull only).
  for (const host of new Set(CRITEST_IMAGES.map((i) => i.host))) {
    await mkdir(path.join(hostsRoot(), host), { recursive: true });
    await writeFile(
      path.join(hostsRoot(), host, "hosts.toml"),
      [`server = "https://${host}"`, `[host."http://${registry.host}"]`, '  capabilities = ["pull", "resolve"]', ""].join("\n"),
    );
  }
  // Pods on a bridge of their own (critest checks pod IPs, port mappings and DNS options).
  await mkdir(`${containerd.root}/cni`, { recursive: true });
  await writeFile(
    `${containerd.root}/cni/10-critest.conflist`,
    JSON.stringify({
      cniVersion: "1.0.0",
      name: `critest-${id}`,
      plugins: [
        {
          type: "bridge",
          bridge: `vhct${slot}`,
          isGateway: true,
          ipMasq: false,
          ipam: { type: "host-local", ranges: [[{ subnet: `10.246.${slot}.0/24` }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: `${containerd.root}/cni-ipam` },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    }),
  );
  await containerd.start();
  await startNodeRuntime();
});

afterAll(async () => {
  if (skip !== undefined) return;
  if (nodeRuntime && nodeRuntime.exitCode === null) {
    const exited = new Promise((r) => nodeRuntime!.once("exit", r));
    nodeRuntime.kill("SIGTERM");
    await exited;
  }
  await containerd?.destroy();
  await run("rm", ["-rf", hostsRoot()]).catch(() => undefined);
  await run("ip", ["link", "del", `vhct${slot}`]).catch(() => undefined);
  await registry?.stop();
});

describe.skipIf(skip !== undefined)("critest through the CRI proxy", () => {
  it(
    "ends every spec as it ends against containerd directly",
    async () => {
      const started = Date.now();
      const direct = await critest(containerd.socket, "direct");
      const proxied = await critest(criSocket(), "proxy");
      const comparison = compareRuns(direct, proxied);
      const [critestVersion, containerdVersion] = await Promise.all([
        run(critestBinary(), ["--version"]).then((r) => /v?(\d+\.\d+\.\d+\S*)/.exec(r.stdout)?.[1] ?? r.stdout.trim()),
        run("containerd", ["--version"]).then((r) => /\sv?(\d+\.\d+\.\d+\S*)/.exec(r.stdout)?.[1] ?? r.stdout.trim()),
      ]);
      const result: RunComparison & { critest: string; containerd: string; skippedHere: typeof SKIPPED_HERE; minutes: number } = {
        critest: critestVersion,
        containerd: containerdVersion,
        ...comparison,
        skippedHere: SKIPPED_HERE,
        minutes: Math.round((Date.now() - started) / 6000) / 10,
      };
      await writeFile(RESULT, JSON.stringify(result, null, 2) + "\n");
      console.log(`critest: ${JSON.stringify(result)}`);
      expect(comparison.direct.passed, "critest passed nothing directly: the setup is broken").toBeGreaterThan(0);
      expect(comparison.differences).toEqual([]);
    },
    90 * 60_000,
  );
});
