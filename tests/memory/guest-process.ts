import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { NATIVE_ABI_VERSION, NATIVE_ADDON_PATH } from "#node-runtime/memory/native-binding.js";
import type { ProcessExit } from "#node-runtime/system/process-exit.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..");

/** Why the userfaultfd tests cannot run here, or undefined if they can. */
export function uffdUnavailableReason(): string | undefined {
  if (process.platform !== "linux") return "userfaultfd is Linux-only";
  if (process.getuid?.() !== 0) return "needs root (vm.unprivileged_userfaultfd may be 0)";
  if (!existsSync("/dev/userfaultfd") && !existsSync("/proc/sys/vm/unprivileged_userfaultfd")) return "kernel without userfaultfd";
  return undefined;
}

/** The ABI of the built addon, read in a child process (a loaded addon cannot be reloaded). */
function builtAddonAbi(): number | undefined {
  try {
    const out = execFileSync(process.execPath, ["-p", `require(${JSON.stringify(NATIVE_ADDON_PATH)}).abiVersion ?? 1`]);
    return Number(out.toString().trim());
  } catch {
    return undefined;
  }
}

/**
 * Builds the addon if `npm run build:native` has not been run yet, or rebuilds it when the build
 * is from older sources. node-gyp would download Node's headers; the host has them (the nodejs
 * package ships /usr/include/node), so point it there.
 */
export function ensureAddonBuilt(): void {
  if (existsSync(NATIVE_ADDON_PATH) && builtAddonAbi() === NATIVE_ABI_VERSION) return;
  const env = { ...process.env };
  if (!env.npm_config_nodedir && existsSync("/usr/include/node/node_api.h")) env.npm_config_nodedir = "/usr";
  execFileSync("npm", ["run", "build:native"], { cwd: repoRoot, stdio: "ignore", env });
}

/** Compiles tests/memory/fc-guest.c into `dir`. */
export function buildGuest(dir: string): string {
  const out = join(dir, "fc-guest");
  execFileSync("cc", ["-O2", "-Wall", "-pthread", "-o", out, join(here, "fc-guest.c")]);
  return out;
}

export function makeTempDir(tag: string): { dir: string; cleanup: () => void } {
  // Disk-backed (not tmpfs) so O_DIRECT reads of working sets work; vhuf prefix per team rules.
  const dir = mkdtempSync(join("/var/tmp", `vhuf-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeTrace(path: string, pages: number[]): string {
  writeFileSync(path, Buffer.from(Uint32Array.from(pages).buffer));
  return path;
}

/** FNV-1a 32 over one page, as fc-guest computes it. */
export function pageSum(page: Uint8Array): number {
  let h = 2166136261;
  for (let i = 0; i < page.length; i++) h = Math.imul(h ^ page[i]!, 16777619) >>> 0;
  return h >>> 0;
}

/** A running fc-guest: one JSON line answered per stdin command. */
export class GuestProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<ProcessExit>;
  private readonly lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private exitNote: string | undefined;
  private readonly exitListeners: ((why: string) => void)[] = [];
  stderr = "";

  constructor(binary: string, args: string[]) {
    this.child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout }).on("line", (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
    this.exited = new Promise((res) =>
      // "close" (not "exit"): stdout is drained by then, so no answer line is lost.
      this.child.on("close", (code, signal) => {
        this.exitNote = `fc-guest exited (code ${code}, signal ${signal}); stderr: ${this.stderr}`;
        for (const l of this.exitListeners.splice(0)) l(this.exitNote);
        res({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  async nextLine<T = Record<string, unknown>>(timeoutMs = 30_000): Promise<T> {
    const l =
      this.lines.shift() ??
      (await new Promise<string>((res, rej) => {
        if (this.exitNote) return rej(new Error(this.exitNote));
        const t = setTimeout(() => rej(new Error(`fc-guest gave no output in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
        this.exitListeners.push((why) => {
          clearTimeout(t);
          rej(new Error(why));
        });
        this.waiters.push((x) => {
          clearTimeout(t);
          res(x);
        });
      }));
    return JSON.parse(l) as T;
  }

  async command<T = Record<string, unknown>>(cmd: string): Promise<T> {
    this.child.stdin.write(`${cmd}\n`);
    return this.nextLine<T>();
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}
