// Stands in for the Pulumi engine and the Kubernetes provider: resources are "created" by
// echoing their inputs back (pulumi.runtime.setMocks), and every registration request is
// recorded with its parent, explicit dependencies and secret markers, so tests can assert the
// resource graph a component builds without a cluster.
import * as pulumi from "@pulumi/pulumi";

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface Registration {
  type: string;
  name: string;
  urn: string;
  custom: boolean;
  parent: string;
  /** URNs this resource was told to wait for (dependsOn, plus parents' dependsOn). */
  dependencies: string[];
  /** Inputs as sent to the engine, secrets still wrapped in their signature object. */
  rawInputs: Record<string, unknown>;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, unknown>;
  additionalSecretOutputs: string[];
}

export interface MockCluster {
  registrations: Registration[];
  /** Resources read with `.get` (type, name, id). */
  reads: { type: string; name: string; id: string }[];
  byName(name: string): Registration;
  /** Names of the resources `name` explicitly depends on. */
  dependencyNames(name: string): string[];
}

function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o["4dabf18193072939515e22adb298388d"] === SECRET_SIG) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** True when `v` contains a secret-wrapped value anywhere. */
export function containsSecret(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o["4dabf18193072939515e22adb298388d"] === SECRET_SIG) return true;
    return Object.values(o).some(containsSecret);
  }
  return false;
}

/**
 * Installs the mocks. `state(type, name, inputs)` may add outputs a real provider would report
 * (e.g. a LoadBalancer address on a Service that is read).
 */
export async function installMockCluster(
  state: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> = () => ({}),
): Promise<MockCluster> {
  const reads: MockCluster["reads"] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.id && args.custom) reads.push({ type: args.type, name: args.name, id: args.id });
        return { id: args.id || `${args.name}-id`, state: { ...args.inputs, ...state(args.type, args.name, args.inputs) } };
      },
      call(args) {
        return args.inputs;
      },
    },
    "vhive",
    "test",
    false,
  );
  const registrations: Registration[] = [];
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: any, cb: (err: unknown, resp: any) => void): Promise<void>;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = async (req, cb) => {
    const raw = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
    await original(req, (err, resp) => {
      if (!err) {
        registrations.push({
          type: req.getType(),
          name: req.getName(),
          urn: resp.getUrn(),
          custom: req.getCustom(),
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
          rawInputs: raw,
          inputs: unwrapSecrets(raw) as Record<string, unknown>,
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        });
      }
      cb(err, resp);
    });
  };
  const byName = (name: string) => {
    const r = registrations.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}; registered: ${registrations.map((x) => x.name).join(", ")}`);
    return r;
  };
  return {
    registrations,
    reads,
    byName,
    dependencyNames: (name) => byName(name).dependencies.map((u) => u.split("::").pop() ?? u),
  };
}

/** Resolves an Output's value in a test (mocks run applies). */
export function outputValue<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/** Lets pending registrations (inside applies) reach the mock monitor. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Stands in for a resource of the program (e.g. the worker joins) that components wait for. */
export class StandInResource extends pulumi.CustomResource {
  constructor(name: string) {
    super("test:hosts:StandIn", name, {});
  }
}
