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
  /** How checkpoints are written and read; default none of the options (runsc's own defaults). */
  snapshot?: RunscSnapshotChoice;
}

/** runsc checkpoint / restore options (all in runsc from release 20240930 on). */
export interface RunscSnapshotOptions {
  /** Pages stored uncompressed (--compression=none; runsc compresses with flate by default). */
  uncompressed: boolean;
  /** Committed pages that hold only zeroes left out (--exclude-committed-zero-pages). */
  excludeZeroPages: boolean;
  /** restore returns before every page is loaded, which goes on behind it (--background; needs uncompressed pages). */
  backgroundRestore: boolean;
  /** O_DIRECT for writing and reading the pages file, past the page cache (--direct). */
  directIo: boolean;
}

/** The first release whose runsc has all of RunscSnapshotOptions (--background came last). */
export const SNAPSHOT_OPTIONS_RELEASE = 20240930;

/**
 * The options that paid off for helloworld on runsc 20260420 (tests/sandbox/gvisor/measure-restore-options.ts,
 * bench/results/gvisor-restore-options.json; three runs of 10 restores on this 2-core machine, load 4 to 9):
 * uncompressed pages cut restore p50 by 80–140 ms with the page cache dropped and 70–230 ms from
 * the page cache (the checkpoint grows from 3.6 to 14.3 MiB); background restore took another
 * 10–18 ms off cold and 4–57 ms warm in every run. Excluding zero pages left the checkpoint as
 * large, and it and direct I/O stayed within the runs' noise, so they stay off.
 */
export const MEASURED_SNAPSHOT_OPTIONS: Readonly<Partial<RunscSnapshotOptions>> = { uncompressed: true, backgroundRestore: true };

/** Options, or "auto": MEASURED_SNAPSHOT_OPTIONS on a runsc that has them, none on an older one. */
export type RunscSnapshotChoice = Partial<RunscSnapshotOptions> | "auto";

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
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^goroutine \d+|^\S+\.go:\d+|^[\w./*()-]+\(.*\)$/.test(l));
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

/** The options a choice stands for on a runsc of `release`. */
export function snapshotOptionsFor(choice: RunscSnapshotChoice, release: number | undefined): Partial<RunscSnapshotOptions> {
  if (choice !== "auto") return choice;
  return release !== undefined && release >= SNAPSHOT_OPTIONS_RELEASE ? { ...MEASURED_SNAPSHOT_OPTIONS } : {};
}

/**
 * checkpoint's and restore's flags for `options`; refuses options this runsc release lacks, or
 * background restore of compressed pages (runsc would refuse it only at the first restore).
 */
export function snapshotFlags(options: Partial<RunscSnapshotOptions>, release: number | undefined): { checkpoint: string[]; restore: string[] } {
  const wanted = (Object.keys(options) as (keyof RunscSnapshotOptions)[]).filter((k) => options[k]);
  if (wanted.length > 0 && (release === undefined || release < SNAPSHOT_OPTIONS_RELEASE)) {
    throw new Error(
      `runsc snapshot options ${wanted.join(", ")} need runsc release ${SNAPSHOT_OPTIONS_RELEASE} or later; this runsc is ${release ?? "of no known release"}`,
    );
  }
  if (options.backgroundRestore && !options.uncompressed)
    throw new Error("runsc snapshot option backgroundRestore needs uncompressed: runsc loads compressed pages only before restore returns");
  return {
    checkpoint: [
      ...(options.uncompressed ? ["--compression=none"] : []),
      ...(options.excludeZeroPages ? ["--exclude-committed-zero-pages"] : []),
      ...(options.directIo ? ["--direct"] : []),
    ],
    restore: [...(options.backgroundRestore ? ["--background"] : []), ...(options.directIo ? ["--direct"] : [])],
  };
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
    return readFileSync(file)
      .subarray(offset, offset + 65536)
      .toString("utf8");
  } catch {
    return "";
  }
}

/**
 * Runs runsc subcommands with the same global flags every time: runsc does not remember create's
 * flags, so start, checkpoint, restore and delete must repeat them or they act on another config.
 */
export class RunscCli {
  private releaseRead: Promise<number | undefined> | undefined;

  constructor(private readonly opts: RunscOptions) {}

  /** This runsc's release date (YYYYMMDD) from `runsc --version`, read once. */
  release(): Promise<number | undefined> {
    this.releaseRead ??= promisify(execFile)(this.opts.binary, ["--version"], { encoding: "utf8" }).then(
      ({ stdout }) => runscReleaseDate(stdout),
      (error: Error) => {
        this.releaseRead = undefined;
        throw new RunscError(`cannot run ${this.opts.binary} --version: ${error.message}`, null, "");
      },
    );
    return this.releaseRead;
  }

  /** The platform every call uses: the configured one, or for "auto" the one for this runsc's release. */
  async platform(): Promise<RunscPlatform> {
    const configured = this.opts.platform;
    return configured !== "auto" ? configured : platformForRelease(await this.release());
  }

  /** Extra flags for `runsc checkpoint` and `runsc restore` (RunscOptions.snapshot). */
  async snapshotFlags(): Promise<{ checkpoint: string[]; restore: string[] }> {
    const choice = this.opts.snapshot ?? {};
    const release = choice === "auto" || Object.values(choice).some(Boolean) ? await this.release() : undefined;
    return snapshotFlags(snapshotOptionsFor(choice, release), release);
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
   * With `via`, runsc runs under that program (the driver's reaper: `via runsc args…`); an array is
   * the program and its own arguments, which come before runsc's path.
   */
  async run(args: string[], log?: { fd: number; path: string }, via?: string | readonly string[]): Promise<string> {
    const [viaProgram, ...viaArgs] = typeof via === "string" ? [via] : (via ?? []);
    const full = [...this.globalFlags(await this.platform()), ...args];
    const logStart = log ? sizeOf(log.path) : 0;
    return new Promise((resolve, reject) => {
      const child = spawn(viaProgram ?? this.opts.binary, viaProgram ? [...viaArgs, this.opts.binary, ...full] : full, {
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
