// bench:invoker's peer: vSwarm's tools/invoker built from a local checkout of vSwarm's repository at
// the pinned commit (bench/vswarm-invoker.ts), then run against our loopback Greeter. Needs the
// checkout (VSWARM_GIT_DIR, or the fetched mirror), Go, and the Go module proxy for its
// dependencies; skips saying which is missing.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { startGreeterServer } from "#experiments/invoker/greeter-server.js";
import { GIT_DIR_SETTING, obtainVswarmInvoker, relativeReplaces, VSWARM_COMMIT } from "#bench/vswarm-invoker.js";
import { skipReason } from "../requirements.js";

const exec = promisify(execFile);
const MIRROR = "/work/.mirror/vhive-serverless+vSwarm/repo";
const gitDir = process.env[GIT_DIR_SETTING] ?? (existsSync(MIRROR) ? MIRROR : undefined);
const reason = skipReason("vSwarm's invoker build", {
  commands: ["go", "git", "tar"],
  unavailable: gitDir
    ? undefined
    : `no vSwarm checkout (set ${GIT_DIR_SETTING} to the git directory of a clone of vhive-serverless/vSwarm with commit ${VSWARM_COMMIT})`,
});

const work = await mkdtemp(path.join(tmpdir(), "vswarm-inv-"));
afterAll(() => rm(work, { recursive: true, force: true }));

describe("relative replaces of a go.mod", () => {
  it("resolves both forms against the module's directory and refuses paths leaving the repository", () => {
    const gomod = "module m\n\nreplace (\n\ta => ../endpoint\n\tb v1.0.0 => ../../utils/x\n\tc => github.com/c/c v1.2.3\n)\nreplace d => ./d\n";
    expect(relativeReplaces(gomod, "tools/invoker")).toEqual(["tools/endpoint", "utils/x", "tools/invoker/d"]);
    expect(() => relativeReplaces("replace a => ../../../etc\n", "tools/invoker")).toThrow(/leaves the repository/);
    expect(() => relativeReplaces("replace a => ../$(x)\n", "tools/invoker")).toThrow(/unexpected characters/);
  });
});

describe.skipIf(reason !== undefined)("vSwarm's invoker from its repository at the pinned commit", () => {
  it("builds (into a cache of the test's own), runs against our Greeter and writes its latency file", async () => {
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = path.join(work, "cache");
    let got;
    try {
      got = await obtainVswarmInvoker();
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
    if ("reason" in got) throw new Error(got.reason);
    expect(got).toMatchObject({ commit: VSWARM_COMMIT, built: true });
    expect(got.bin.startsWith(path.join(work, "cache", "vhive-tools", `vswarm-invoker-${VSWARM_COMMIT.slice(0, 12)}`))).toBe(true);

    const server = await startGreeterServer();
    try {
      const dir = path.join(work, "run");
      await exec("mkdir", ["-p", dir]);
      await writeFile(path.join(dir, "endpoints.json"), JSON.stringify([{ hostname: "127.0.0.1", eventing: false, matchers: null }]));
      const { stdout } = await exec(got.bin, ["-endpointsFile", "endpoints.json", "-rps", "20", "-time", "1", "-port", String(server.port)], { cwd: dir });
      const issued = /Issued \/ completed requests: (\d+), (\d+)/.exec(stdout);
      expect(issued).not.toBeNull();
      const file = (await readdir(dir)).find((f) => /^rps[\d.]+_lat\.csv$/.test(f));
      expect(file).toBeDefined();
      const lines = (await readFile(path.join(dir, file!), "utf8")).split("\n").filter(Boolean);
      // One latency (µs) per call that ended, and the server saw every call issued.
      expect(lines.length).toBe(Number(issued![2]));
      expect(lines.every((l) => /^\d+$/.test(l))).toBe(true);
      expect(server.calls()).toBe(Number(issued![1]));
    } finally {
      await server.close();
    }
  }, 900_000);
});

describe("a checkout that is not there", () => {
  it("is named with the setting to change", async () => {
    const saved = { dir: process.env[GIT_DIR_SETTING], cache: process.env.XDG_CACHE_HOME };
    process.env[GIT_DIR_SETTING] = path.join(work, "no-such-repo");
    process.env.XDG_CACHE_HOME = path.join(work, "empty-cache");
    try {
      const got = await obtainVswarmInvoker();
      expect(got).toEqual({ reason: expect.stringMatching(new RegExp(`${GIT_DIR_SETTING} \\(.*no-such-repo\\) does not exist`)) });
    } finally {
      for (const [k, v] of [
        [GIT_DIR_SETTING, saved.dir],
        ["XDG_CACHE_HOME", saved.cache],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
