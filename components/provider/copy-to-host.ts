// vhive:index:CopyToHost — a file of the machine running Pulumi copied to a host over SFTP (the
// node runtime bundle), again whenever its triggers change. The step that uses the file removes it.
import { randomUUID } from "node:crypto";
import { changedKeys, type Props, type ResourceHandler } from "./handler.js";
import { InputReader } from "./inputs.js";
import { readConnection } from "./connection-input.js";
import { reveal } from "./secrets.js";
import { copyToRemote, describeTarget } from "./ssh.js";
import { resourceName } from "./urn.js";

function parse(props: Props) {
  const inputs = new InputReader(reveal(props) as Props);
  const target = readConnection(inputs);
  const source = inputs.string("source", true);
  const remotePath = inputs.string("remotePath", true);
  const hostName = inputs.string("hostName");
  if (remotePath !== undefined && !/^\/[A-Za-z0-9._/-]+$/.test(remotePath))
    inputs.failures.push({ property: "remotePath", reason: "must be an absolute path of letters, digits and . _ / -" });
  return { target, source, remotePath, hostName, failures: inputs.failures };
}

async function copy(urn: string, props: Props): Promise<Props> {
  const { target, source, remotePath, hostName } = parse(props);
  if (!target || !source || !remotePath) throw new Error(`${resourceName(urn)}: invalid inputs`);
  try {
    await copyToRemote(target, source, remotePath);
  } catch (error) {
    throw new Error(`host ${hostName ?? target.host} (${describeTarget(target)}): ${resourceName(urn)}: ${(error as Error).message}`);
  }
  return props;
}

export const copyToHost: ResourceHandler = {
  async check(_urn, _olds, news) {
    return { inputs: news, failures: parse(news).failures };
  },
  async diff(_id, _urn, olds, news) {
    const changed = changedKeys(reveal(olds) as Props, reveal(news) as Props, ["source", "remotePath", "triggers", "connection"]);
    return { changes: changed.length > 0, deleteBeforeReplace: false };
  },
  async create(urn, inputs) {
    return { id: randomUUID(), outs: await copy(urn, inputs) };
  },
  async update(_id, urn, _olds, news) {
    return { outs: await copy(urn, news) };
  },
  async delete() {},
};
