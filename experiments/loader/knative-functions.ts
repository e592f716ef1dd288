// The loader's own Knative deployment: one Knative Service of the trace function per sampled trace
// function, made by the provisioner's Functions component in a Pulumi stack of the loader's
// (Automation API, inline program, the project's pinned engine), so a replay on a cluster needs no
// hand-made endpoints.json. `up` returns once every Service is Ready (the component waits on
// Knative's Ready condition); the endpoints come from the component's own endpoints.json output.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { openStack, projectDirectory } from "#cli/pulumi/workspace.js";
import { Functions, type FunctionSpec } from "#components/functions/index.js";
import type { SandboxKind } from "#components/manifests/types.js";
import { parseEndpoints, type Endpoint } from "../invoker/endpoints.js";
import type { TraceFunction } from "../trace/azure-trace.js";

export const SANDBOXES: readonly SandboxKind[] = ["gvisor", "containerd", "firecracker"];

export interface TraceServicesOptions {
  /** The trace function's image as the cluster pulls it (a registry reference, pinned by tag or digest). */
  image: string;
  /** Distinguishes this run's Services (and its stack) from other runs'; lowercase letters and digits. */
  runId: string;
  /** The trace function's port (trace_func.py's $PORT default). */
  port?: number;
  /** Knative autoscaling bounds for every Service (default Knative's: scale to zero, so cold starts happen). */
  minScale?: number;
  maxScale?: number;
  /** Caps the trace function applies to a request (its TRACE_FUNC_MAX_* settings). */
  maxDurationMs?: number;
  maxMemoryMiB?: number;
}

const RUN_ID = /^[a-z0-9]{1,12}$/;

/** One FunctionSpec per sampled function: "trace-<run>-<i>", the trace function's image on h2c. */
export function traceFunctionSpecs(fns: TraceFunction[], o: TraceServicesOptions): FunctionSpec[] {
  if (!RUN_ID.test(o.runId)) throw new Error(`runId: expected 1-12 lowercase letters or digits, got ${JSON.stringify(o.runId)}`);
  if (o.image.trim() === "" || /\s/.test(o.image)) throw new Error(`image: expected an image reference without spaces, got ${JSON.stringify(o.image)}`);
  const env: Record<string, string> = {};
  if (o.maxDurationMs !== undefined) env.TRACE_FUNC_MAX_DURATION_MS = String(o.maxDurationMs);
  if (o.maxMemoryMiB !== undefined) env.TRACE_FUNC_MAX_MEMORY_MIB = String(o.maxMemoryMiB);
  return fns.map((_, i) => ({
    // The Functions component appends "-0" (vSwarm's copy index): "trace-<run>-<i>-0".
    name: `trace-${o.runId}-${i}`,
    image: o.image,
    port: o.port ?? 50051,
    protocol: "h2c",
    ...(Object.keys(env).length ? { env } : {}),
    ...(o.minScale !== undefined ? { minScale: o.minScale } : {}),
    ...(o.maxScale !== undefined ? { maxScale: o.maxScale } : {}),
  }));
}

export interface KnativeTarget {
  /** Admin kubeconfig of the cluster (its text; a secret of the stack, never logged). */
  kubeconfig: string;
  /** Knative's domain: hostnames are "<service>.<namespace>.<domain>". */
  domain: string;
  sandbox: SandboxKind;
  namespace?: string;
}

/** The inline Pulumi program: a Kubernetes provider for the cluster and the Functions component. */
export function traceServicesProgram(target: KnativeTarget, specs: FunctionSpec[]): () => Promise<Record<string, unknown>> {
  if (!SANDBOXES.includes(target.sandbox)) throw new Error(`sandbox: expected one of ${SANDBOXES.join(", ")}, got ${JSON.stringify(target.sandbox)}`);
  if (target.domain.trim() === "") throw new Error("domain: must not be empty (Knative's domain, e.g. 192.168.1.240.sslip.io)");
  return async () => {
    const provider = new k8s.Provider("loader-cluster", { kubeconfig: pulumi.secret(target.kubeconfig) });
    const fns = new Functions("loader", { provider, sandbox: target.sandbox, functions: specs, namespace: target.namespace, domain: target.domain });
    return { endpointsJson: fns.endpointsJson, serviceNames: fns.serviceNames };
  };
}

export interface DeployOptions {
  /** The project directory and file state backend of the loader's stack (kept with the run's outputs). */
  stateDir: string;
  /** Engine output, line by line (progress); default none. */
  onOutput?: (text: string) => void;
}

/** The loader's stack of trace function Services. */
export class TraceServicesStack {
  private constructor(
    readonly stack: Stack,
    readonly stateDir: string,
    private readonly onOutput?: (text: string) => void,
  ) {}

  static async open(runId: string, program: () => Promise<Record<string, unknown>>, o: DeployOptions): Promise<TraceServicesStack> {
    const dir = path.resolve(o.stateDir);
    await mkdir(path.join(dir, "state"), { recursive: true });
    projectDirectory(dir);
    const stack = await openStack({ stack: `loader-${runId}`, workDir: dir, backendUrl: `file://${path.join(dir, "state")}`, program });
    return new TraceServicesStack(stack, dir, o.onOutput);
  }

  /** What `up` would do, without touching the cluster's objects. */
  preview() {
    return this.stack.preview({ ...(this.onOutput ? { onOutput: this.onOutput } : {}) });
  }

  /** Creates the Services and waits until each is Ready; their endpoints, in function order. */
  async up(): Promise<Endpoint[]> {
    const result = await this.stack.up({ ...(this.onOutput ? { onOutput: this.onOutput } : {}) });
    const json = result.outputs.endpointsJson?.value;
    if (typeof json !== "string") throw new Error("the loader's Knative stack produced no endpointsJson output");
    return parseEndpoints(JSON.parse(json), "the loader's Knative stack (endpointsJson)");
  }

  /** Deletes the Services and the stack. */
  async remove(): Promise<void> {
    await this.stack.destroy({ ...(this.onOutput ? { onOutput: this.onOutput } : {}) });
    await this.stack.workspace.removeStack(this.stack.name);
  }
}
