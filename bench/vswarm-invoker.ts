// vSwarm's invoker (tools/invoker) built from a local checkout of its upstream repository at a
// pinned commit, for bench:invoker. The Go module proxy refuses the module itself (403), and its
// go.mod points at sibling modules by relative path, so the build needs the repository's tree:
// `git archive` copies tools/invoker and every sibling its go.mod replaces (transitively) into a
// writable directory with the same layout; the other dependencies come from the Go module proxy,
// checked against vSwarm's go.sum. The binary is cached by commit outside the repository.
import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The vSwarm commit built (main, 2024-08-27); its go.mod/go.sum pin every dependency. */
export const VSWARM_COMMIT = "11be651eb39a961e7bd1725acbca921ab03fb8e1";
const INVOKER_DIR = "tools/invoker";
/** Where the project's `fetch` of vhive-serverless/vSwarm puts its git directory; used when present. */
const DEFAULT_GIT_DIR = "/work/.mirror/vhive-serverless+vSwarm/repo";
/** Setting naming vSwarm's git directory (a bare clone or a checkout's .git). */
export const GIT_DIR_SETTING = "VSWARM_GIT_DIR";

export type VswarmInvoker = { bin: string; commit: string; built: boolean; goVersion: string } | { reason: string };

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const cacheRoot = () => path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "vhive-tools");

/** Relative `replace` targets of a go.mod, as repository paths resolved against `moduleDir`. */
export function relativeReplaces(gomod: string, moduleDir: string): string[] {
  const out: string[] = [];
  // Both `replace a => ../b` and the block form; only local (./ or ../) targets.
  for (const m of gomod.matchAll(/=>\s*(\.\.?\/[^\s)]*)/g)) {
    const target = m[1]!;
    if (!/^[\w./-]+$/.test(target)) throw new Error(`${moduleDir}/go.mod: replace target ${JSON.stringify(target)} has unexpected characters`);
    const resolved = path.posix.normalize(path.posix.join(moduleDir, target));
    if (resolved.startsWith("..") || path.posix.isAbsolute(resolved)) throw new Error(`${moduleDir}/go.mod: replace target ${target} leaves the repository`);
    out.push(resolved);
  }
  return out;
}

async function git(gitDir: string, args: string[], encoding: "buffer" | "utf8" = "utf8"): Promise<string | Buffer> {
  const { stdout } = await exec("git", ["--git-dir", gitDir, ...args], { encoding, maxBuffer: 1 << 28 });
  return stdout;
}

/** Copies one directory of the commit into `dest` (same relative path); archiving the subtree alone avoids blobs a partial mirror lacks elsewhere. */
async function archiveDir(gitDir: string, dir: string, dest: string): Promise<void> {
  const tar = (await git(gitDir, ["archive", "--format=tar", `--prefix=${dir}/`, `${VSWARM_COMMIT}:${dir}`], "buffer")) as Buffer;
  await new Promise<void>((resolve, reject) => {
    const child = execFile("tar", ["-x", "-C", dest], (err) => (err ? reject(new Error(`unpacking ${dir}: ${err.message}`)) : resolve()));
    child.stdin!.end(tar);
  });
}

/** The cached binary for the pinned commit, building it first when absent; or why it cannot be had. */
export async function obtainVswarmInvoker(): Promise<VswarmInvoker> {
  const dir = path.join(cacheRoot(), `vswarm-invoker-${VSWARM_COMMIT.slice(0, 12)}`);
  const bin = path.join(dir, "vswarm-invoker");
  // The toolchain that built a cached binary is recorded beside it.
  const goVersionFile = `${bin}.go-version`;
  if (await exists(bin)) return { bin, commit: VSWARM_COMMIT, built: false, goVersion: (await readFile(goVersionFile, "utf8").catch(() => "unknown")).trim() };

  const setting = process.env[GIT_DIR_SETTING];
  const gitDir = setting ?? ((await exists(DEFAULT_GIT_DIR)) ? DEFAULT_GIT_DIR : undefined);
  if (!gitDir)
    return {
      reason: `no vSwarm checkout: set ${GIT_DIR_SETTING} to the git directory of a clone of github.com/vhive-serverless/vSwarm (with commit ${VSWARM_COMMIT})`,
    };
  const which = setting ? GIT_DIR_SETTING : "the default vSwarm mirror";
  if (!(await exists(gitDir)))
    return { reason: `${which} (${gitDir}) does not exist: point ${GIT_DIR_SETTING} at the git directory of a clone of github.com/vhive-serverless/vSwarm` };
  try {
    await git(gitDir, ["cat-file", "-e", `${VSWARM_COMMIT}:${INVOKER_DIR}/go.mod`]);
  } catch {
    return { reason: `${which} (${gitDir}) has no ${INVOKER_DIR}/go.mod at commit ${VSWARM_COMMIT}: fetch that commit into it` };
  }

  let goVersion: string;
  try {
    goVersion = (await exec("go", ["env", "GOVERSION"])).stdout.trim();
  } catch (err) {
    return { reason: `no Go toolchain to build vSwarm's invoker (go env: ${(err as Error).message.split("\n")[0]})` };
  }
  await mkdir(dir, { recursive: true });
  const tree = await mkdtemp(path.join(dir, "src-"));
  try {
    // tools/invoker and, transitively, the siblings its go.mod replaces.
    const pending = [INVOKER_DIR];
    const copied = new Set<string>();
    while (pending.length) {
      const d = pending.pop()!;
      if (copied.has(d)) continue;
      copied.add(d);
      await archiveDir(gitDir, d, tree);
      const gomod = path.join(tree, d, "go.mod");
      if (await exists(gomod)) pending.push(...relativeReplaces(await readFile(gomod, "utf8"), d));
    }
    const out = path.join(tree, "vswarm-invoker");
    // -mod=readonly: go.sum must already pin every module (it does at this commit); GOTOOLCHAIN=local: no toolchain download.
    await exec("go", ["build", "-trimpath", "-mod=readonly", "-o", out, "."], {
      cwd: path.join(tree, INVOKER_DIR),
      env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false" },
      timeout: 900_000,
      maxBuffer: 1 << 24,
    });
    await writeFile(goVersionFile, `${goVersion}\n`);
    await rename(out, bin);
    return { bin, commit: VSWARM_COMMIT, built: true, goVersion };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr?.trim() || e.message).split("\n").slice(-3).join(" | ");
    // The Go proxy's wording, without its address.
    return { reason: `building vSwarm's ${INVOKER_DIR} at ${VSWARM_COMMIT} failed: ${detail.replace(/https?:\/\/\S+/g, "<proxy>")}` };
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}
