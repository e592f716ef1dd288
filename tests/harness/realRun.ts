// Runs a real Pulumi program with the engine replaced by pulumi.runtime.setMocks, but with the
// command provider's work done for real: each command:remote:Command's create script runs over
// SSH on the host in its connection (pinned host key checked) when Pulumi registers it, and its
// real stdout/stderr become the outputs. A resource is registered only after the resources it
// depends on have returned, so scripts run in the order Pulumi resolves them. Destroy runs the
// recorded delete scripts, dependents before what they depend on.
import * as pulumi from "@pulumi/pulumi";
import { decide, type RuleOptions } from "./executionRule.js";
import { copyToRemote, runRemote, SshConnectError, type SshTarget } from "./sshSession.js";
import { execFile } from "node:child_process";
import { RecordedState } from "./recordedState.js";

export type Status = "executed" | "failed" | "not-executed" | "blocked" | "stopped" | "other";

export interface ResourceRecord {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  status: Status;
  reason?: string;
  /** Host name (from the hosts map) and address of a remote resource. */
  host?: string;
  address?: string;
  /** Step name: the resource name without its "<host>-" prefix. */
  step?: string;
  /** What the step itself reported on its `vhive-step <name>: …` line. */
  outcome?: "changed" | "unchanged";
  stdout?: string;
  stderr?: string;
  startedMs?: number;
  endedMs?: number;
  readonly dependencies: string[];
  deleteScript?: string;
  /** For a local command: how its scripts are run. */
  interpreter?: string[];
  target?: Omit<SshTarget, "privateKey"> & { privateKey?: string };
  error?: string;
}

export interface RunOptions extends RuleOptions {
  /** Host name per address, to name hosts in errors and reports. */
  readonly hostNames?: Readonly<Record<string, string>>;
  /** Overrides the connection's dialErrorLimit (tests of a host that is down). */
  readonly dialAttempts?: number;
  /** Like `pulumi up --continue-on-error`: keep starting independent steps after a failure. */
  readonly continueOnError?: boolean;
  readonly log?: (line: string) => void;
  readonly project?: string;
  readonly stack?: string;
}

export interface RunReport {
  readonly records: ResourceRecord[];
  /** What destroy needs: the executed commands with their delete scripts and credentials. */
  readonly state: RecordedState;
  readonly failures: ResourceRecord[];
  /** Everything the harness did not execute, with the reason (never imitated). */
  readonly notExecuted: ResourceRecord[];
  readonly programErrors: string[];
  /** From the start until the last resource was done (the harness's settling wait excluded). */
  readonly elapsedMs: number;
}

/** Pulumi's wire form of a secret: {"4dabf18193072939515e22adb298388d": "<sig>", value}. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (SECRET_SIG_KEY in record && "value" in record) return unwrapSecrets(record.value);
    if (value.constructor !== Object) return value;
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

const STEP_LINE = /^vhive-step ([^:\s]+): (changed|unchanged)$/m;

export function stepOutcome(stdout: string): "changed" | "unchanged" | undefined {
  const match = STEP_LINE.exec(stdout);
  return match ? (match[2] as "changed" | "unchanged") : undefined;
}

function urnFor(parent: string, type: string, name: string, stack: string, project: string): string {
  let qualified = type;
  if (parent) qualified = `${parent.split("::")[2]!.split("$").pop()}$${type}`;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

function targetOf(connection: Record<string, unknown>, options: RunOptions): SshTarget {
  const privateKey = connection.privateKey;
  if (typeof privateKey !== "string") throw new Error(`connection to ${String(connection.host)} has no private key (agent auth is not supported by the harness)`);
  const dialErrorLimit = typeof connection.dialErrorLimit === "number" ? connection.dialErrorLimit : 1;
  return {
    host: String(connection.host),
    port: typeof connection.port === "number" ? connection.port : 22,
    user: typeof connection.user === "string" ? connection.user : "root",
    privateKey,
    ...(typeof connection.hostKey === "string" ? { hostKey: connection.hostKey } : {}),
    dialAttempts: options.dialAttempts ?? dialErrorLimit,
    perDialTimeoutS: typeof connection.perDialTimeout === "number" ? connection.perDialTimeout : 15,
  };
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export function runLocal(script: string, interpreter: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const [cmd = "/bin/sh", ...args] = interpreter.length > 0 ? interpreter : ["/bin/sh", "-c"];
  return new Promise((resolve) => {
    execFile(cmd, [...args, script], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error ? (typeof error.code === "number" ? error.code : 1) : 0 }),
    );
  });
}

export class RealRun {
  readonly records = new Map<string, ResourceRecord>();
  private pendingDeps = new Map<string, { urn: string; deps: string[] }>();
  private inFlight = 0;
  private lastDoneMs = Date.now();
  private activity = 0;
  private firstFailure: ResourceRecord | undefined;
  private readonly started = Date.now();
  /** Private keys by URN, for destroy; kept out of the records so reports never carry them. */
  private readonly keys = new Map<string, string>();

  constructor(private readonly options: RunOptions) {}

  private log(line: string): void {
    this.options.log?.(line);
  }

  /** The pulumi.runtime.Mocks the run installs. */
  mocks(): pulumi.runtime.Mocks {
    return {
      newResource: async (args) => {
        this.inFlight++;
        this.activity++;
        try {
          return await this.newResource(args);
        } finally {
          this.inFlight--;
          this.activity++;
          this.lastDoneMs = Date.now();
        }
      },
      call: (args) => args.inputs,
    };
  }

  /** Records each registration's dependency URNs (mock args do not carry them). */
  hookMonitor(): void {
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      registerResource: (req: RegisterRequest, cb: unknown) => unknown;
    };
    const original = monitor.registerResource.bind(monitor);
    const project = this.options.project ?? "vhive";
    const stack = this.options.stack ?? "real-hosts";
    monitor.registerResource = (req, cb) => {
      const urn = urnFor(req.getParent(), req.getType(), req.getName(), stack, project);
      this.pendingDeps.set(`${req.getType()}::${req.getName()}`, { urn, deps: req.getDependenciesList() });
      return original(req, cb);
    };
  }

  private async newResource(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
    const key = `${args.type}::${args.name}`;
    const pending = this.pendingDeps.get(key) ?? { urn: `${args.type}::${args.name}`, deps: [] };
    const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
    const record: ResourceRecord = { urn: pending.urn, type: args.type, name: args.name, status: "other", dependencies: pending.deps };
    this.records.set(record.urn, record);
    const state = { ...(args.inputs as Record<string, unknown>) };
    if (!args.custom) return { id: undefined, state };

    const decision = decide(args.type, inputs, this.options);
    const connection = (inputs.connection ?? {}) as Record<string, unknown>;
    if (typeof connection.host === "string") {
      record.address = connection.host;
      record.host = this.options.hostNames?.[connection.host] ?? connection.host;
      record.step = args.name.startsWith(`${record.host}-`) ? args.name.slice(record.host.length + 1) : args.name;
    }
    const blocker = record.dependencies.map((d) => this.records.get(d)).find((d) => d && d.status !== "executed" && d.status !== "other");
    const id = `${args.name}-id`;
    if (blocker) {
      record.status = "blocked";
      record.reason = `depends on ${blocker.name} (${blocker.status})`;
      return { id, state: { ...state, stdout: "", stderr: "" } };
    }
    if (!decision.run) {
      record.status = args.type.startsWith("command:") ? "not-executed" : "other";
      record.reason = decision.reason;
      if (record.status === "other" && args.type.startsWith("kubernetes:")) record.status = "not-executed";
      return { id, state: { ...state, stdout: "", stderr: "" } };
    }
    if (this.firstFailure && !this.options.continueOnError) {
      record.status = "stopped";
      record.reason = `not started: the run stopped after ${this.firstFailure.name} failed`;
      return { id, state: { ...state, stdout: "", stderr: "" } };
    }

    record.startedMs = Date.now() - this.started;
    try {
      if (decision.run === "local-command") {
        const interpreter = Array.isArray(inputs.interpreter) ? (inputs.interpreter as string[]) : [];
        const result = await runLocal(String(inputs.create ?? "true"), interpreter);
        if (typeof inputs.delete === "string") {
          record.deleteScript = inputs.delete;
          record.interpreter = interpreter;
        }
        record.stdout = result.stdout;
        record.stderr = result.stderr;
        if (result.code !== 0) throw new Error(`exit status ${result.code}\n${tail(result.stderr)}`);
      } else {
        const target = targetOf(connection, this.options);
        const { privateKey: secret, ...publicTarget } = target;
        record.target = publicTarget;
        this.keys.set(record.urn, secret);
        if (decision.run === "copy-to-remote") {
          const source = inputs.source as { path?: string | Promise<string> } | undefined;
          const path = source?.path ? await source.path : undefined;
          if (!path) throw new Error("CopyToRemote without a file source");
          await copyToRemote(target, path, String(inputs.remotePath));
        } else {
          this.log(`[${record.host}] ${record.step}: running`);
          const result = await runRemote(target, String(inputs.create ?? "true"));
          record.stdout = result.stdout;
          record.stderr = result.stderr;
          if (typeof inputs.delete === "string") record.deleteScript = inputs.delete;
          if (result.code !== 0)
            throw new Error(`exit status ${result.code ?? result.signal}${result.stderr ? `\n${tail(result.stderr)}` : ""}`);
          const outcome = stepOutcome(result.stdout);
          if (outcome) record.outcome = outcome;
        }
      }
      record.status = "executed";
      record.endedMs = Date.now() - this.started;
      this.log(`[${record.host ?? "local"}] ${record.step ?? record.name}: ${record.outcome ?? "done"} (${((record.endedMs - record.startedMs) / 1000).toFixed(1)} s)`);
      return { id, state: { ...state, stdout: record.stdout ?? "", stderr: record.stderr ?? "" } };
    } catch (error) {
      record.status = "failed";
      record.endedMs = Date.now() - this.started;
      const cause = error instanceof SshConnectError ? error.message : (error as Error).message;
      record.error = `host ${record.host ?? "local"}${record.address ? ` (${record.address})` : ""}, step ${record.step ?? record.name}: ${cause}`;
      this.firstFailure ??= record;
      this.log(`FAILED ${record.error}`);
      // Returned, not thrown, so the rest of the graph still registers and is listed as blocked.
      return { id, state: { ...state, stdout: "", stderr: "" } };
    }
  }

  /** Resolves once no registration has happened or been in flight for a while. */
  async settle(quietMs = 400): Promise<void> {
    let seen = -1;
    for (;;) {
      await new Promise((r) => setTimeout(r, quietMs));
      if (this.inFlight === 0 && this.activity === seen) return;
      seen = this.activity;
    }
  }

  report(programErrors: string[]): RunReport {
    // A resource whose inputs could not be resolved never reaches the mocks; list it by name.
    for (const error of programErrors) {
      const match = /failed to register new resource (\S+) \[([^\]]+)\]: (.*)/.exec(error);
      if (!match || [...this.records.values()].some((r) => r.name === match[1] && r.type === match[2])) continue;
      this.records.set(`${match[2]}::${match[1]}`, {
        urn: `${match[2]}::${match[1]}`,
        type: match[2]!,
        name: match[1]!,
        status: "blocked",
        reason: `never registered: ${match[3]}`,
        dependencies: [],
      });
    }
    const records = [...this.records.values()];
    const state = new RecordedState();
    state.add(records, this.keys);
    return {
      records,
      state,
      failures: records.filter((r) => r.status === "failed"),
      notExecuted: records.filter((r) => r.status === "not-executed" || r.status === "blocked" || r.status === "stopped"),
      programErrors,
      elapsedMs: this.lastDoneMs - this.started,
    };
  }
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
}

/** Runs `program` (which registers resources) for real against the hosts its connections name. */
export async function runForReal(program: () => unknown, options: RunOptions = {}): Promise<RunReport> {
  const run = new RealRun(options);
  await pulumi.runtime.setMocks(run.mocks(), options.project ?? "vhive", options.stack ?? "real-hosts", false);
  run.hookMonitor();
  const programErrors: string[] = [];
  const onRejection = (reason: unknown) => programErrors.push(reason instanceof Error ? reason.message : String(reason));
  process.on("unhandledRejection", onRejection);
  try {
    await program();
  } catch (error) {
    programErrors.push(error instanceof Error ? error.message : String(error));
  }
  await run.settle();
  process.off("unhandledRejection", onRejection);
  return run.report(programErrors);
}
