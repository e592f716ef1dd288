// The Knative target when the loader deploys the functions itself: prepare() makes one Knative
// Service of the trace function per sampled function through the loader's Pulumi stack and waits
// until all are Ready, then function i is invoked on Service i (its own, not i mod n); close()
// removes the Services and the stack unless asked to keep them.
import type { Endpoint } from "../invoker/endpoints.js";
import type { TraceFunction } from "../trace/azure-trace.js";
import { KnativeBackend, type ColdStarts, type LoaderBackend, type Outcome } from "./backends.js";
import { TraceServicesStack, traceFunctionSpecs, traceServicesProgram, type KnativeTarget, type TraceServicesOptions } from "./knative-functions.js";

export interface KnativeDeployBackendOptions {
  target: KnativeTarget;
  services: TraceServicesOptions;
  /** The loader stack's project directory and state (under the run's output directory). */
  stateDir: string;
  /** Leave the Services (and the stack, to remove later with its state) after the run. */
  keep?: boolean;
  /** Dial this address (the ingress) and send the hostname as :authority. */
  connect?: string;
  /** The port requests go to (80: Knative's ingress). */
  port: number;
  perRequestConnection?: boolean;
  log?: (line: string) => void;
  /** The Pulumi engine's own output (the deployment can take minutes: its progress). */
  engineOutput?: (text: string) => void;
}

export class KnativeDeployBackend implements LoaderBackend {
  readonly kind = "knative" as const;
  private stack: TraceServicesStack | undefined;
  private inner: KnativeBackend | undefined;
  /** The deployed endpoints, in function order (after prepare). */
  endpoints: Endpoint[] = [];

  constructor(private readonly opts: KnativeDeployBackendOptions) {}

  async prepare(fns: TraceFunction[]): Promise<string[]> {
    const log = this.opts.log ?? (() => undefined);
    const specs = traceFunctionSpecs(fns, this.opts.services);
    this.stack = await TraceServicesStack.open(this.opts.services.runId, traceServicesProgram(this.opts.target, specs), {
      stateDir: this.opts.stateDir,
      ...(this.opts.engineOutput ? { onOutput: this.opts.engineOutput } : {}),
    });
    log(
      `deploying ${specs.length} Knative Services of ${this.opts.services.image} (stack ${this.stack.stack.name}, state in ${this.stack.stateDir}); waiting until they are Ready`,
    );
    try {
      this.endpoints = await this.stack.up();
    } catch (err) {
      throw new Error(
        `deploying the trace functions as Knative Services failed (the stack's state is in ${this.stack.stateDir}; remove what was made with \`npm run loader -- remove-functions --state ${this.stack.stateDir} --run ${this.opts.services.runId}\`): ${(
          err as Error
        ).message
          .split("\n")
          .filter((l) => l.trim())
          .slice(-5)
          .join(" | ")}`,
      );
    }
    if (this.endpoints.length !== fns.length) throw new Error(`the loader's Knative stack made ${this.endpoints.length} Services for ${fns.length} functions`);
    log(`ready: ${this.endpoints.map((e) => e.hostname).join(", ")}`);
    this.inner = new KnativeBackend(this.endpoints, { port: this.opts.port, connect: this.opts.connect, perRequestConnection: this.opts.perRequestConnection });
    return this.inner.prepare(fns);
  }

  invoke(fn: number, payload: string, deadlineMs: number, done: (o: Outcome) => void): void {
    this.inner!.invoke(fn, payload, deadlineMs, done);
  }

  async coldStarts(): Promise<ColdStarts | null> {
    return null;
  }

  async close(): Promise<void> {
    await this.inner?.close();
    if (!this.stack) return;
    if (this.opts.keep) {
      this.opts.log?.(
        `kept the Knative Services; remove them with \`npm run loader -- remove-functions --state ${this.stack.stateDir} --run ${this.opts.services.runId}\``,
      );
      return;
    }
    this.opts.log?.("removing the Knative Services");
    await this.stack.remove();
  }
}
