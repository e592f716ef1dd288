// From a component's arguments to the validated internal StackConfig: the same zod schema and
// cross-field checks as a stack file, so bad input is refused before anything is created, every
// problem at once, each under the argument's name (`hosts[1].address`, `minio.secretKey`). The
// secrets stay Pulumi Inputs: the config refers to them by internal keys that `secret` resolves.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, validateStackConfig } from "../config/validate.js";
import type { StackConfig } from "../config/schema.js";
import type { SecretLookup } from "../nodes/connection.js";
import type { Host, NodeRuntimeHostsArgs, VhiveClusterArgs } from "./args.js";

export interface ComponentConfig {
  readonly config: StackConfig;
  /** Resolves the config's secret references to the Inputs the caller gave, as Pulumi secrets. */
  readonly secret: SecretLookup;
}

type Raw = Record<string, unknown>;

/** Which component the arguments are for: what it builds decides `kubernetes` and the targets it takes. */
export type ComponentKind = "VhiveCluster" | "NodeRuntimeHosts";

const SECRET_PATHS = /^(hosts\[\d+\]\.sshKey\.privateKey|minio\.(accessKey|secretKey))$/;

/**
 * Paths of values that are Outputs or promises where a plain value is needed: which resources
 * exist depends on them, so they must be known when the program runs (only secrets may be Inputs).
 */
function unknownPlainValues(value: unknown, path: string, found: string[]): void {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) {
    if (!SECRET_PATHS.test(path)) found.push(path);
    return;
  }
  if (Array.isArray(value)) for (const [i, v] of value.entries()) unknownPlainValues(v, `${path}[${i}]`, found);
  else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) unknownPlainValues(v, path ? `${path}.${k}` : k, found);
}

/** Drops undefined fields, so the schema's defaults apply as they do to a stack file's absent keys. */
function defined(record: Raw): Raw {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

function rawHost(host: Host, index: number, component: ComponentKind, secrets: Map<string, pulumi.Input<string>>, problems: string[]): Raw {
  const path = `hosts[${index}].sshKey`;
  const key = (host as { sshKey?: Host["sshKey"] }).sshKey;
  let sshKey: unknown;
  if (typeof key !== "object" || key === null) {
    problems.push(`${path}: required: one of privateKey (a secret), file (a key file's path) or agent: true`);
  } else {
    const given = (["privateKey", "file", "agent"] as const).filter((k) => key[k] !== undefined && key[k] !== false);
    if (given.length !== 1) problems.push(`${path}: set exactly one of privateKey, file or agent (${given.length === 0 ? "none" : given.join(" and ")} given)`);
    else if (given[0] === "privateKey") {
      const secretKey = `${path.replace(/\[(\d+)\]/, ".$1")}.privateKey`;
      secrets.set(secretKey, key.privateKey!);
      sshKey = { secret: secretKey };
    } else if (given[0] === "file") sshKey = { file: key.file };
    else sshKey = "agent";
  }
  // Without Kubernetes there is no control plane: every host is a worker unless the caller says otherwise.
  const role = host.role ?? (component === "NodeRuntimeHosts" ? "worker" : undefined);
  return defined({ ...host, sshKey, role });
}

function rawMinio(minio: VhiveClusterArgs["minio"], secrets: Map<string, pulumi.Input<string>>): Raw | undefined {
  if (minio === undefined) return undefined;
  const ref = (field: "accessKey" | "secretKey") => {
    const value = minio[field];
    if (value === undefined) return undefined;
    secrets.set(`minio.${field}`, value);
    return { secret: `minio.${field}` };
  };
  return defined({ ...minio, accessKey: ref("accessKey"), secretKey: ref("secretKey") });
}

/** Validates a component's arguments; throws a ConfigError naming every problem. */
export function stackConfigOf(component: ComponentKind, args: VhiveClusterArgs | NodeRuntimeHostsArgs): ComponentConfig {
  const problems: string[] = [];
  if (typeof args !== "object" || args === null) throw new ConfigError([`${component} needs an args object`]);
  const unknown: string[] = [];
  unknownPlainValues(args, "", unknown);
  for (const path of unknown)
    problems.push(`${path}: must be a plain value known when the program runs (it decides which resources exist); only secrets may be Outputs`);
  if (problems.length > 0) throw new ConfigError(problems);

  const secrets = new Map<string, pulumi.Input<string>>();
  const { checksumLockFile: _lock, ...settings } = args as VhiveClusterArgs & NodeRuntimeHostsArgs;
  const target = settings.target ?? (component === "VhiveCluster" ? "kind" : "hosts");
  if (component === "VhiveCluster" && (target as string) === "playground")
    problems.push('target: must be "kind" or "hosts" (the playground runs the node runtime without Kubernetes: use NodeRuntimeHosts)');
  if (component === "NodeRuntimeHosts" && (target as string) === "kind")
    problems.push('target: must be "hosts" or "playground" (kind is a Kubernetes node: use VhiveCluster)');
  const raw = defined({
    ...settings,
    target,
    kubernetes: component === "VhiveCluster",
    hosts: settings.hosts?.map((h, i) => (typeof h === "object" && h !== null ? rawHost(h, i, component, secrets, problems) : h)),
    minio: rawMinio(settings.minio, secrets),
  });
  const result = validateStackConfig(raw, { configKeys: new Set(secrets.keys()) });
  // `kubernetes` is not an argument: the component decides it, and the target check above says why.
  if (!result.ok) problems.push(...result.problems.filter((p) => !p.startsWith("kubernetes:")));
  if (problems.length > 0 || !result.ok) throw new ConfigError(problems);
  return {
    config: result.config,
    secret: (key) => {
      const value = secrets.get(key);
      if (value === undefined) throw new Error(`internal: no secret argument for ${key}`);
      return pulumi.secret(value);
    },
  };
}
