import { execFile, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { promisify } from "node:util";

export type RunscPlatform = "ptrace" | "kvm" | "systrap";
/** A platform, or "auto": the one `platformForRelease` picks for the runsc at hand. */
export type RunscPlatformChoice = RunscPlatform | "auto";
export type RunscNetwork = "none" | "sandbox";

export interface RunscOptions {
  /** runsc binary; default "runsc" from PATH. */
  binary: string;
  /** runsc --root: state directory for every container this driver makes. */
  root: string;
  platform: RunscPlatformChoice;
  network: RunscNetwork;
  /** runsc --debug logs go here (one file per command), for diagnosing slow or failing starts. */
  debugLogDir?: string;
}

/** Container state as `runsc state` reports it. */
export interface RunscState {
  id: string;
  status: "created" | "running" | "paused" | "stopped" | string;
  pid: number;
  bundle: string;
}

export class RunscError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = "RunscError";
  }
}

/**
 * The gist of a runsc failure: its first lines, without Go stack traces (a failed checkpoint prints
 * the whole kernel object it could not encode, megabytes of it).
 */
export function summariseRunscError(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l && !/^goroutine \d+|^\S+\.go:\d+|^[\w./*()-]+\(.*\)$/.test(l));
  const text = lines.slice(0, 3).join(" | ");
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** The first release whose runsc makes systrap its default platform (gVisor commit e5f2478be). */
export const SYSTRAP_DEFAULT_RELEASE = 20230621;

/**
 * The release date (YYYYMMDD) in `runsc --version`'s first line: upstream's builds say
 * "release-20260420.0…", Debian's "0.0~20221219.0". Undefined when it names none.
 */
export function runscReleaseDate(versionOutput: string): number | undefined {
  const match = /^runsc version (?:release-|\d+\.\d+~)(\d{8})\b/m.exec(versionOutput);
  return match ? Number(match[1]) : undefined;
}

/**
 * systrap where runsc itself defaults to it (faster than ptrace, and it needs neither KVM nor
 * ptrace's per-syscall stops); ptrace for older runsc (Debian bookworm's 20221219 has no systrap)
 * and for a runsc that names no release.
 */
export function platformForRelease(release: number | undefined): RunscPlatform {
  return release !== undefined && release >= SYSTRAP_DEFAULT_RELEASE ? "systrap" : "ptrace";
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What a command appended to a log file (at most 64 KiB of it). */
function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset, offset + 65536).toString("utf8");
  } catch {
    return "";
  }
}

/**
 * Runs runsc subcommands with the same global flags every time: runsc does not remember create's
 * flags, so start, checkpoint, restore and delete must repeat them or they act on another config.
 */
export class RunscCli {
  private platformChosen: Promise<RunscPlatform> | undefined;

  constructor(private readonly opts: RunscOptions) {}

  /** The platform every call uses: the configured one, or for "auto" the one for this runsc's release. */
  platform(): Promise<RunscPlatform> {
    const configured = this.opts.platform;
    if (configured !== "auto") return Promise.resolve(configured);
    this.platformChosen ??= promisify(execFile)(this.opts.binary, ["--version"], { encoding: "utf8" }).then(
      ({ stdout }) => platformForRelease(runscReleaseDate(stdout)),
      (error: Error) => {
        this.platformChosen = undefined;
        throw new RunscError(`cannot run ${this.opts.binary} --version: ${error.message}`, null, "");
      },
    );
    return this.platformChosen;
  }

  /** Global flags; host-uds=create lets the relay bind its socket on the host through the gofer. */
  globalFlags(platform: RunscPlatform): string[] {
    return [
      `--root=${this.opts.root}`,
      `--platform=${platform}`,
      `--network=${this.opts.network}`,
      "--host-uds=create",
      "--overlay2=root:memory",
      ...(this.opts.debugLogDir ? ["--debug", `--debug-log=${this.opts.debugLogDir.replace(/\/?$/, "/")}`] : []),
    ];
  }

  /**
   * Runs one subcommand. With `log`, runsc's stdout and stderr (and so the container's, for create
   * and restore, whose stdio the sandbox inherits) go to that file, and a failure quotes its tail.
   * With `via`, runsc runs under that program (the driver's reaper: `via runsc args…`).
   */
  async run(args: string[], log?: { fd: number; path: string }, via?: string): Promise<string> {
    const full = [...this.globalFlags(await this.platform()), ...args];
    const logStart = log ? sizeOf(log.path) : 0;
    return new Promise((resolve, reject) => {
      const child = spawn(via ?? this.opts.binary, via ? [this.opts.binary, ...full] : full, {
        stdio: log ? ["ignore", log.fd, log.fd] : ["ignore", "pipe", "pipe"],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on("data", (c: Buffer) => out.push(c));
      child.stderr?.on("data", (c: Buffer) => err.push(c));
      child.on("error", (e) => reject(new RunscError(`cannot run ${this.opts.binary}: ${e.message}`, null, "")));
      child.on("close", (code, signal) => {
        if (code === 0) {
          resolve(Buffer.concat(out).toString("utf8"));
          return;
        }
        const stderr = log ? readFrom(log.path, logStart) : Buffer.concat(err).toString("utf8");
        const status = signal ? `signal ${signal}` : `exit code ${code}`;
        const sub = args.find((a) => !a.startsWith("-")) ?? "";
        reject(new RunscError(`runsc ${sub} ${args.at(-1) ?? ""} failed (${status}): ${summariseRunscError(stderr) || "no message"}`, code, stderr));
      });
    });
  }

  async state(id: string): Promise<RunscState | undefined> {
    try {
      return JSON.parse(await this.run(["state", id])) as RunscState;
    } catch (error) {
      if (error instanceof RunscError && /does not exist|not found|file does not exist/i.test(error.stderr)) return undefined;
      throw error;
    }
  }

  async list(): Promise<RunscState[]> {
    const out = (await this.run(["list", "--format=json"])).trim();
    if (!out || out === "null") return [];
    return JSON.parse(out) as RunscState[];
  }
}
