// vhive:index:LocalCommand — a step on the machine running Pulumi (the kind dev environment, the
// node runtime bundle): the same life cycle as HostCommand, the script run by bash from a file
// only this user can read.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changedKeys, type Props, type ResourceHandler } from "./handler.js";
import { InputReader } from "./inputs.js";
import { stepFailure } from "./script-failure.js";
import { reveal, secret } from "./secrets.js";
import { resourceName } from "./urn.js";
import type { ProcessExit } from "#node-runtime/system/process-exit.js";

const WORK_KEYS = ["create", "triggers"] as const;

interface LocalResult extends Readonly<ProcessExit> {
  readonly stdout: string;
  readonly stderr: string;
}

export async function runLocalScript(script: string): Promise<LocalResult> {
  const dir = await mkdtemp(join(tmpdir(), "vhive-step-"));
  const file = join(dir, "step.sh");
  try {
    await writeFile(file, script, { mode: 0o600 });
    return await new Promise((resolve, reject) => {
      const child = spawn("bash", [file], { stdio: ["ignore", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => err.push(d));
      child.once("error", reject);
      child.once("close", (code, signal) =>
        resolve({
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          code,
          signal,
        }),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function parse(props: Props) {
  const inputs = new InputReader(reveal(props) as Props);
  const create = inputs.string("create", true);
  const del = inputs.string("delete");
  const secretStdout = inputs.boolean("secretStdout") ?? false;
  return { create, delete: del, secretStdout, failures: inputs.failures };
}

async function runCreate(urn: string, props: Props, phase: "create" | "update"): Promise<Props> {
  const inputs = parse(props);
  const result = await runLocalScript(inputs.create ?? "");
  if (result.code !== 0) throw stepFailure("this machine", resourceName(urn), phase, result.code, result.signal, result.stderr);
  return { ...props, stdout: inputs.secretStdout ? secret(result.stdout) : result.stdout };
}

export const localCommand: ResourceHandler = {
  async check(_urn, _olds, news) {
    return { inputs: news, failures: parse(news).failures };
  },
  async diff(_id, _urn, olds, news) {
    const changed = changedKeys(reveal(olds) as Props, reveal(news) as Props, [...WORK_KEYS, "delete", "secretStdout"]);
    return { changes: changed.length > 0, deleteBeforeReplace: false };
  },
  async create(urn, inputs) {
    return { id: randomUUID(), outs: await runCreate(urn, inputs, "create") };
  },
  async update(_id, urn, olds, news) {
    if (changedKeys(reveal(olds) as Props, reveal(news) as Props, WORK_KEYS).length === 0) return { outs: { ...news, stdout: olds.stdout ?? "" } };
    return { outs: await runCreate(urn, news, "update") };
  },
  async delete(_id, urn, props) {
    const inputs = parse(props);
    if (!inputs.delete) return;
    const result = await runLocalScript(inputs.delete);
    if (result.code !== 0) throw stepFailure("this machine", resourceName(urn), "delete", result.code, result.signal, result.stderr);
  },
};
