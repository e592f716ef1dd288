// Runs the real program (components/program/build-cluster.ts) for one stack file under Pulumi's
// mocks and records every resource with its dependencies, so tests can assert the graph and
// the secrecy of outputs. Must be imported by a test file that runs nothing else: Pulumi's
// runtime state is process-global, and vitest's forks pool gives each test file its process.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ADDON_ARTIFACTS } from "#components/config/schema.js";

export const REPO = join(import.meta.dirname, "..", "..");
export const PROJECT = "vhive";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** Names of resources this one waits for: dependsOn, parent and provider. */
  readonly deps: string[];
  /** The resource's inputs as the program passed them (Outputs stay Outputs). */
  readonly inputs: Record<string, unknown>;
}

/**
 * Test double for the in-cluster release files (stands in for the upstream Calico, MetalLB,
 * Istio and Knative downloads, which tests may not fetch): one small manifest, served for every
 * URL. Its sha256 is what the test stack config pins for every addon artifact.
 */
export const FIXTURE_MANIFEST = [
  "# stands in for an upstream release manifest: only the objects the addons edit",
  "apiVersion: apps/v1",
  "kind: DaemonSet",
  "metadata: { name: calico-node, namespace: kube-system }",
  "spec:",
  "  selector: { matchLabels: { k8s-app: calico-node } }",
  "  template:",
  "    metadata: { labels: { k8s-app: calico-node } }",
  "    spec: { containers: [{ name: calico-node, image: calico-node-test-double }] }",
  ...["config-deployment", "config-features", "config-network"].flatMap((name) => [
    "---",
    "apiVersion: v1",
    "kind: ConfigMap",
    `metadata: { name: ${name}, namespace: knative-serving }`,
    "data: {}",
  ]),
  "",
].join("\n");
export const FIXTURE_SHA256 = createHash("sha256").update(FIXTURE_MANIFEST).digest("hex");
export const fixtureFetcher = { fetch: async (_url: string) => new TextEncoder().encode(FIXTURE_MANIFEST) };

const ADDON_KEYS = ADDON_ARTIFACTS;

/**
 * Test doubles for secrets the stack files reference by key (stand-ins for what a user sets
 * with `pulumi config set --secret`).
 */
export const TEST_SECRETS: Record<string, string> = {
  sshPrivateKey: "test-double: stands in for an SSH private key",
  minioAccessKey: "test-double-minio-user",
  minioSecretKey: "test-double-minio-password",
};

/** Flattens a stack file into Pulumi's config map (objects and lists as JSON). */
export function stackConfigMap(stack: string): Record<string, string> {
  const doc = parseYaml(readFileSync(join(REPO, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  const map: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config)) map[key] = typeof value === "string" ? value : JSON.stringify(value);
  return map;
}

/** What the fake engine reports for commands: the outputs real steps print. */
const FAKE_KUBECONFIG = [
  "apiVersion: v1",
  "kind: Config",
  "clusters:",
  "- name: vhive",
  "  cluster:",
  "    server: https://192.0.2.10:6443",
  "users:",
  "- name: admin",
  "  user:",
  "    token: test-double-admin-credential",
  "",
].join("\n");

/** The stdout a command resource of this name reports under the mocks (also used by components/cluster tests). */
export function commandStdout(name: string): string {
  if (name.endsWith("-kubeadm-init"))
    return [
      `vhive-output caCertHash=sha256:${"ab".repeat(32)}`,
      `vhive-output kubeconfig=${Buffer.from(FAKE_KUBECONFIG).toString("base64")}`,
      "vhive-step kubeadm-init: changed",
    ].join("\n");
  if (name.endsWith("-bundle")) return `/tmp/vhive-node-runtime-test.tgz ${"cd".repeat(32)}`;
  if (name.endsWith("-node-runtime-copy")) return "cd".repeat(32);
  // The playground's hosts script: one JSON line per host (the key file is the test home's).
  if (name === "playground-machines")
    return [61, 62]
      .map((i) =>
        JSON.stringify({
          index: i,
          name: `vht-${i}`,
          address: `10.231.0.${100 + i}`,
          port: 22,
          user: "vhive",
          privateKeyPath: `${process.env.HOME}/.ssh/id_ed25519`,
          hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestDoubleHostKeyOfAPlaygroundHost",
        }),
      )
      .join("\n");
  return `vhive-step ${name}: changed`;
}

export interface StackRun {
  readonly resources: RecordedResource[];
  readonly outputs: Record<string, unknown>;
  /** Whether each output is a Pulumi secret. */
  readonly secret: Record<string, boolean>;
  /** Transitive dependencies of a resource (by name). */
  dependsOn(name: string): Set<string>;
}

/**
 * A home directory holding a test-double private key file, for stacks that read the SSH key
 * from `~/.ssh/id_ed25519` (stands in for the user's key; never used to connect).
 */
function useTestHome(): void {
  const home = mkdtempSync(join(tmpdir(), "vhive-h1-home-"));
  mkdirSync(join(home, ".ssh"));
  writeFileSync(join(home, ".ssh", "id_ed25519"), "test-double: stands in for an SSH private key file\n", { mode: 0o600 });
  process.env.HOME = home;
  process.on("exit", () => rmSync(home, { recursive: true, force: true }));
}

export async function runStack(stack: string, configMap?: Record<string, string>): Promise<StackRun> {
  useTestHome();
  const states = new Map<string, Record<string, unknown>>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "vhive:index:BootstrapToken") state.token = "abc123.0123456789abcdef";
        if (args.type === "vhive:index:HostCommand" || args.type === "vhive:index:LocalCommand") {
          state.stdout = commandStdout(args.name);
          state.stderr = "";
        }
        if (args.type === "kubernetes:core/v1:Service") state.status = { loadBalancer: { ingress: [{ ip: "192.0.2.240" }] } };
        states.set(args.name, state);
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    PROJECT,
    stack,
    false,
  );
  const config = configMap ?? stackConfigMap(stack);
  const addonChecksums = Object.fromEntries(ADDON_KEYS.map((k) => [k, FIXTURE_SHA256]));
  const referenced = Object.keys(TEST_SECRETS).filter((k) => Object.values(config).some((v) => v.includes(`"secret":"${k}"`)));
  for (const key of referenced) config[`${PROJECT}:${key}`] = TEST_SECRETS[key]!;
  const checksums = config[`${PROJECT}:checksums`] ? JSON.parse(config[`${PROJECT}:checksums`]!) : {};
  config[`${PROJECT}:checksums`] = JSON.stringify({ ...checksums, ...addonChecksums });
  pulumi.runtime.setAllConfig(
    config,
    referenced.map((k) => `${PROJECT}:${k}`),
  );

  const resources: RecordedResource[] = [];
  const nameOf = (r: unknown): string | undefined => (r as { __name?: string } | undefined)?.__name;
  const outputs: Record<string, unknown> = {};
  const secret: Record<string, boolean> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      const deps: string[] = [];
      const dependsOn = args.opts.dependsOn;
      const list = Array.isArray(dependsOn) ? dependsOn : dependsOn ? [dependsOn] : [];
      for (const d of list) if (nameOf(d)) deps.push(nameOf(d)!);
      if (nameOf(args.opts.parent) && args.opts.parent?.constructor.name !== "Stack") deps.push(nameOf(args.opts.parent)!);
      const provider = (args.opts as pulumi.CustomResourceOptions).provider;
      if (nameOf(provider)) deps.push(nameOf(provider)!);
      resources.push({ type: args.type, name: args.name, deps, inputs: args.props as Record<string, unknown> });
      return undefined;
    });
    const { loadStackConfig } = await import("#components/program/load-config.js");
    const { buildCluster } = await import("#components/program/build-cluster.js");
    const cluster = buildCluster({
      config: loadStackConfig(pulumi.runtime.allConfig(), PROJECT),
      secret: (key) => new pulumi.Config(PROJECT).requireSecret(key),
      repoRoot: REPO,
      manifestFetcher: fixtureFetcher,
    });
    for (const [key, value] of Object.entries(cluster)) {
      if (pulumi.Output.isInstance(value)) {
        outputs[key] = await new Promise((resolve) => value.apply((v) => resolve(v)));
        secret[key] = await (value as unknown as { isSecret: Promise<boolean> }).isSecret;
      } else outputs[key] = value;
    }
    return {};
  });

  const byName = new Map(resources.map((r) => [r.name, r]));
  return {
    resources,
    outputs,
    secret,
    dependsOn(name) {
      const seen = new Set<string>();
      const stack = [...(byName.get(name)?.deps ?? [])];
      while (stack.length) {
        const next = stack.pop()!;
        if (seen.has(next)) continue;
        seen.add(next);
        stack.push(...(byName.get(next)?.deps ?? []));
      }
      return seen;
    },
  };
}
