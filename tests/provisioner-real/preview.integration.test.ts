// Every shipped stack (stacks/Pulumi.<name>.yaml) previews with the real engine (the pinned CLI
// and Kubernetes plugin from scripts/tools, the project's provider plugin, the program through the
// Automation API) and the stack's own defaults, plus the secrets the stack file documents, set as
// secrets through the Automation API. What each stack needs for a preview, besides the engine:
//   playground  nothing (its hosts are made at `pulumi up`; their addresses show as unknown)
//   dev, ci     nothing: no Docker, no dev image, no kind (those are checked and fetched by steps at up)
//   baremetal   nothing (`sshKey: agent`: the agent is asked at up)
//   cloudvm     the private key file the stack names (~/.ssh/id_ed25519): here a key made for the test
//   openyurt    the secrets sshPrivateKey, minioAccessKey, minioSecretKey
// A preview downloads nothing: every fetch the program tries is recorded and refused here, the
// release-file cache stays empty and no checksum lock is written.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTools, PULUMI_TOOLS, REPO_ROOT } from "#cli/pulumi/tools.js";
import { ChecksumLock } from "#components/config/checksum-lock.js";
import { upstreamUrl } from "#components/config/artifacts.js";
import { EngineStack } from "./real-provisioner.js";

const SHIPPED = readdirSync(join(REPO_ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

/** A stack file's settings without the project prefix, as EngineStack writes them. */
function shippedConfig(stack: string): Record<string, unknown> {
  const doc = parseYaml(readFileSync(join(REPO_ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^vhive:/, ""), v]));
}

const work = mkdtempSync(join(tmpdir(), "vhive-preview-"));
const home = join(work, "home");
const lockPath = join(work, "checksums.lock.json");
const cacheHome = join(work, "cache");
const saved = {
  HOME: process.env.HOME,
  XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
  VHIVE_CHECKSUM_LOCK: process.env.VHIVE_CHECKSUM_LOCK,
  VHIVE_TOOLS_DIR: process.env.VHIVE_TOOLS_DIR,
};
const realFetch = globalThis.fetch;
const fetched: string[] = [];

/** A private key made for this test: stands in for the user's own key file or secret. */
function testKey(path: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "vhive preview test", "-f", path]);
  return readFileSync(path, "utf8");
}

let keyText = "";

beforeAll(async () => {
  // The engine first, with the real home (its build caches live there); then the test's home.
  await ensureTools(PULUMI_TOOLS);
  process.env.VHIVE_TOOLS_DIR ??= join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "vhive-tools");
  mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  keyText = testKey(join(home, ".ssh", "id_ed25519"));
  process.env.HOME = home;
  process.env.XDG_CACHE_HOME = cacheHome;
  process.env.VHIVE_CHECKSUM_LOCK = lockPath;
  // The program runs in this process: any download it tries shows up here, and fails.
  globalThis.fetch = (async (input: string | URL | Request) => {
    fetched.push(String(input instanceof Request ? input.url : input));
    throw new Error("a preview must not download anything");
  }) as typeof fetch;
}, 1_800_000);

afterAll(() => {
  globalThis.fetch = realFetch;
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  rmSync(work, { recursive: true, force: true });
});

const SECRETS: Record<string, () => Record<string, string>> = {
  openyurt: () => ({ sshPrivateKey: keyText, minioAccessKey: "preview-test-user", minioSecretKey: "preview-test-password" }),
};

async function preview(stack: string): Promise<{ creates: number; output: string }> {
  const engine = await EngineStack.open(stack, shippedConfig(stack), SECRETS[stack]?.() ?? {});
  try {
    const result = await engine.preview();
    return { creates: result.changeSummary.create ?? 0, output: engine.output };
  } finally {
    engine.remove();
  }
}

describe("every shipped stack previews with the real engine and its defaults", () => {
  it("the shipped stacks are the six the README lists", () => {
    expect(SHIPPED).toEqual(["baremetal", "ci", "cloudvm", "dev", "openyurt", "playground"]);
  });

  for (const stack of SHIPPED) {
    it(`${stack}: preview succeeds and downloads nothing`, async () => {
      const { creates, output } = await preview(stack);
      expect(creates).toBeGreaterThan(0);
      expect(output).not.toMatch(/^\s*error:/m);
      expect(fetched).toEqual([]);
      expect(existsSync(lockPath)).toBe(false);
      expect(existsSync(join(cacheHome, "vhive", "release-files"))).toBe(false);
      if (shippedConfig(stack).target !== "playground" && shippedConfig(stack).kubernetes !== false) {
        // The add-ons are declared; their release files are not in the cache, so their objects are unknown.
        expect(output).toContain("kubernetes:yaml/v2:ConfigGroup addons-calico");
      }
    }, 600_000);
  }

  it("dev: files without a pinned checksum are named in warnings; with them in the lock, a preview uses the lock", async () => {
    const before = await preview("dev");
    expect(before.output).toContain("checksums.kubeadm: kubeadm 1.35.3 has no checksum in the stack, the built-in table or the checksum lock yet");
    // Stands in for the lock a first `pulumi up` records (a digest no real file has: a preview only reads it).
    const lock = new ChecksumLock(lockPath);
    for (const name of ["kubeadm", "kubelet", "kubectl"] as const)
      lock.record(upstreamUrl(name, "1.35.3"), "sha256:" + "ab".repeat(32), `${upstreamUrl(name, "1.35.3")}.sha256`);
    const after = await preview("dev");
    expect(after.output).not.toContain("checksums.kubeadm:");
    expect(after.output).toContain("checksums.crictl:");
    expect(fetched).toEqual([]);
    rmSync(lockPath);
  }, 600_000);
});
