// vhive:index:HostCommand — a step on a host over SSH: `create` runs at creation and again whenever
// its inputs change (steps are idempotent, so a changed step converges in place and is never
// replaced: no old `delete` can run after the new `create`), `delete` at destroy, and `check`
// (optional) at refresh, so a host that drifted is repaired by the next `pulumi up`.
import { randomUUID } from "node:crypto";
import type * as provider from "@pulumi/pulumi/provider/index.js";
import { changedKeys, type Props, type ResourceHandler } from "./handler.js";
import { InputReader } from "./inputs.js";
import { readConnection } from "./connection-input.js";
import { remoteRunnerCommand } from "./runner.js";
import { stepFailure } from "./script-failure.js";
import { reveal, secret } from "./secrets.js";
import { describeTarget, runRemote, SshConnectError, SshExecError, type SshTarget } from "./ssh.js";
import { resourceName } from "./urn.js";

/** What makes a step do its work again; `converged` turns false when a refresh finds drift. */
const WORK_KEYS = ["create", "triggers", "converged"] as const;
const DEFAULT_TIMEOUT_S = 3600;

interface HostCommandInputs {
  readonly target: SshTarget;
  readonly hostName: string;
  readonly create: string;
  readonly delete?: string;
  readonly check?: string;
  readonly secretStdout: boolean;
  readonly timeoutS: number;
}

function read(props: Props): { value?: HostCommandInputs; failures: provider.CheckFailure[] } {
  const inputs = new InputReader(reveal(props) as Props);
  const target = readConnection(inputs);
  const create = inputs.string("create", true);
  const del = inputs.string("delete");
  const check = inputs.string("check");
  const hostName = inputs.string("hostName");
  const secretStdout = inputs.boolean("secretStdout") ?? false;
  const timeoutS = inputs.integer("timeoutS", 1, 24 * 3600) ?? DEFAULT_TIMEOUT_S;
  if (!target || create === undefined || inputs.failures.length > 0) return { failures: inputs.failures };
  return {
    value: { target, hostName: hostName ?? target.host, create, secretStdout, timeoutS, ...(del ? { delete: del } : {}), ...(check ? { check } : {}) },
    failures: [],
  };
}

function parse(props: Props): HostCommandInputs {
  const { value, failures } = read(props);
  if (!value) throw new Error(`invalid inputs: ${failures.map((f) => `${f.property} ${f.reason}`).join("; ")}`);
  return value;
}

function where(inputs: HostCommandInputs): string {
  return `host ${inputs.hostName} (${describeTarget(inputs.target)})`;
}

async function runScript(urn: string, inputs: HostCommandInputs, phase: "create" | "update" | "delete" | "check", script: string) {
  try {
    return await runRemote(inputs.target, remoteRunnerCommand(), { stdin: script, timeoutS: inputs.timeoutS });
  } catch (error) {
    if (error instanceof SshConnectError || error instanceof SshExecError)
      throw new Error(`${where(inputs)}: step ${resourceName(urn)} (${phase}): ${error.message}`);
    throw error;
  }
}

async function runCreate(urn: string, props: Props, phase: "create" | "update"): Promise<Props> {
  const inputs = parse(props);
  const result = await runScript(urn, inputs, phase, inputs.create);
  if (result.code !== 0) throw stepFailure(where(inputs), resourceName(urn), phase, result.code, result.signal, result.stderr);
  return { ...props, converged: true, stdout: inputs.secretStdout ? secret(result.stdout) : result.stdout };
}

export const hostCommand: ResourceHandler = {
  async check(_urn, _olds, news) {
    const { failures } = read(news);
    return { inputs: { ...news, converged: true }, failures };
  },

  async diff(_id, _urn, olds, news) {
    const o = reveal(olds) as Props;
    const n = reveal(news) as Props;
    const work = changedKeys(o, n, WORK_KEYS);
    const other = changedKeys(o, n, ["delete", "check", "connection", "hostName", "secretStdout", "timeoutS"]);
    const oc = (o.connection ?? {}) as Props;
    const nc = (n.connection ?? {}) as Props;
    // Another machine: the step is created there and deleted from the old one.
    const moved = oc.host !== nc.host || (oc.port ?? 22) !== (nc.port ?? 22);
    return {
      changes: work.length > 0 || other.length > 0,
      ...(moved ? { replaces: ["connection"] } : {}),
      deleteBeforeReplace: false,
    };
  },

  async create(urn, inputs) {
    return { id: randomUUID(), outs: await runCreate(urn, inputs, "create") };
  },

  async update(_id, urn, olds, news) {
    const o = reveal(olds) as Props;
    const n = reveal(news) as Props;
    // Only the bookkeeping changed (a delete or check script, a timeout, a rotated key for the
    // same host): nothing to run.
    if (changedKeys(o, n, WORK_KEYS).length === 0) return { outs: { ...news, converged: true, stdout: olds.stdout ?? "" } };
    return { outs: await runCreate(urn, news, "update") };
  },

  async read(id, urn, props) {
    const inputs = parse(props);
    let converged = props.converged !== false;
    if (inputs.check) {
      const result = await runScript(urn, inputs, "check", inputs.check);
      converged = result.code === 0;
    }
    const { stdout: _stdout, ...rest } = props;
    return { id, props: { ...props, converged }, inputs: { ...rest, converged } };
  },

  async delete(_id, urn, props) {
    const inputs = parse(props);
    if (!inputs.delete) return;
    const result = await runScript(urn, inputs, "delete", inputs.delete);
    if (result.code !== 0) throw stepFailure(where(inputs), resourceName(urn), "delete", result.code, result.signal, result.stderr);
  },
};
