// `npm run loader -- …`: replays an Azure Functions trace against Knative functions (endpoints.json)
// or against the node runtime's revisions. `npm run loader -- generate …` writes a small trace.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readEndpointsFile } from "../invoker/endpoints.js";
import { readTrace } from "../trace/azure-trace.js";
import { TRACE_FILE_NAMES, writeGeneratedTrace } from "../trace/generate.js";
import { readFile } from "node:fs/promises";
import { KnativeBackend, NodeRuntimeBackend, type LoaderBackend } from "./backends.js";
import { KnativeDeployBackend } from "./knative-deploy-backend.js";
import { SANDBOXES, TraceServicesStack } from "./knative-functions.js";
import type { SandboxKind } from "#components/manifests/types.js";
import { runLoader, type LoaderSummary } from "./run.js";
import type { InterArrival } from "./schedule.js";
import { errorMessage } from "#node-runtime/system/error-message.js";

export const USAGE = `usage: loader [options]                     replay a trace
       loader remove-functions --state DIR --run ID   remove Services kept by --keep-functions
       loader generate --out DIR [--functions 20] [--minutes 10] [--seed 1]
                       [--max-per-minute 60] [--max-duration-ms 1000] [--max-memory-mb 256]
replay options:
  --trace DIR            directory with the three trace files (names as in AzureFunctionsDataset2019), or
  --invocations F --durations F --memory F
  --functions N          functions to sample (default 5; invitro advises at most 5 per core)
  --seed N               sampling, arrivals, durations and memory (default 1)
  --minutes N            minutes to replay (default: to the sampled functions' last active minute)
  --warmup-minutes N     replayed but not in the summary (default 0)
  --minute-seconds S     length of a trace minute (default 60; e.g. 2 for a quick run)
  --iat D                exponential (default), uniform or equidistant inter-arrival times
  --deadline-ms N        per-invocation deadline (default 60000)
  --max-duration-ms N    cap on a drawn duration;  --max-memory-mib N: cap on drawn memory (default 256)
  --out DIR              output directory (default .);  --no-plots;  --progress/--no-progress;  --json
target (one of):
  --endpointsFile FILE [--port 80] [--connect HOST:PORT] [--per-request-connection]
                         Knative functions (deploy the trace function image; function i → entry i mod n)
  --kubeconfig FILE --domain D --image REF [--sandbox gvisor] [--namespace default]
                 [--min-scale N] [--max-scale N] [--keep-functions] [--port 80] [--connect HOST:PORT]
                         the loader deploys one Knative Service of the trace function per sampled function
                         (the Functions component, through Pulumi), waits until Ready, replays, removes them
  --node-runtime API --image REF [--sandbox gvisor] [--snapshot-mode vanilla] [--memory-mib N]
                 [--keepalive-seconds S]   node-runtime revisions started on demand, stopped when idle`;

function intOpt(v: string | undefined, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number ≥ ${min}, got ${v}`);
  return n;
}

export async function loaderCommand(argv: string[]): Promise<LoaderSummary | undefined> {
  if (argv[0] === "remove-functions") {
    const { values } = parseArgs({ args: argv.slice(1), options: { state: { type: "string" }, run: { type: "string" } } });
    if (!values.state || !values.run)
      throw new Error("remove-functions: --state DIR and --run ID are required (the loader printed both when it kept the Services)");
    const stack = await TraceServicesStack.open(values.run, async () => ({}), { stateDir: values.state, onOutput: (t) => process.stderr.write(t) });
    await stack.remove();
    return undefined;
  }
  if (argv[0] === "generate") {
    const { values } = parseArgs({
      args: argv.slice(1),
      options: {
        out: { type: "string" },
        functions: { type: "string" },
        minutes: { type: "string" },
        seed: { type: "string" },
        "max-per-minute": { type: "string" },
        "max-duration-ms": { type: "string" },
        "max-memory-mb": { type: "string" },
      },
    });
    if (!values.out) throw new Error("generate: --out DIR is required");
    const files = await writeGeneratedTrace(values.out, {
      functions: intOpt(values.functions, "functions", 20, 1),
      minutes: intOpt(values.minutes, "minutes", 10, 1),
      seed: intOpt(values.seed, "seed", 1),
      maxPerMinute: intOpt(values["max-per-minute"], "max-per-minute", 60, 0.2),
      maxDurationMs: intOpt(values["max-duration-ms"], "max-duration-ms", 1000, 1),
      maxMemoryMb: intOpt(values["max-memory-mb"], "max-memory-mb", 256, 1),
    });
    for (const f of Object.values(files)) console.log(f);
    return undefined;
  }
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      trace: { type: "string" },
      invocations: { type: "string" },
      durations: { type: "string" },
      memory: { type: "string" },
      functions: { type: "string" },
      seed: { type: "string" },
      minutes: { type: "string" },
      "warmup-minutes": { type: "string" },
      "minute-seconds": { type: "string" },
      iat: { type: "string" },
      "deadline-ms": { type: "string" },
      "max-duration-ms": { type: "string" },
      "max-memory-mib": { type: "string" },
      out: { type: "string" },
      plots: { type: "boolean", default: true },
      progress: { type: "boolean" },
      json: { type: "boolean" },
      endpointsFile: { type: "string" },
      port: { type: "string" },
      connect: { type: "string" },
      "per-request-connection": { type: "boolean" },
      "node-runtime": { type: "string" },
      image: { type: "string" },
      sandbox: { type: "string" },
      "snapshot-mode": { type: "string" },
      "memory-mib": { type: "string" },
      "keepalive-seconds": { type: "string" },
      kubeconfig: { type: "string" },
      domain: { type: "string" },
      namespace: { type: "string" },
      "min-scale": { type: "string" },
      "max-scale": { type: "string" },
      "keep-functions": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const dir = values.trace;
  const files = {
    invocations: values.invocations ?? (dir ? path.join(dir, TRACE_FILE_NAMES.invocations) : undefined),
    durations: values.durations ?? (dir ? path.join(dir, TRACE_FILE_NAMES.durations) : undefined),
    memory: values.memory ?? (dir ? path.join(dir, TRACE_FILE_NAMES.memory) : undefined),
  };
  if (!files.invocations || !files.durations || !files.memory) throw new Error("give --trace DIR, or all of --invocations, --durations and --memory");
  const iat = (values.iat ?? "exponential") as InterArrival;
  if (!["exponential", "uniform", "equidistant"].includes(iat)) throw new Error(`--iat: expected exponential, uniform or equidistant, got ${iat}`);
  const trace = await readTrace({ invocations: files.invocations, durations: files.durations, memory: files.memory });

  let backend: LoaderBackend;
  if (values["node-runtime"]) {
    if (!values.image) throw new Error("--node-runtime needs --image REF (the trace-func image, loaded with `npm run node-runtime -- image load`)");
    backend = new NodeRuntimeBackend({
      api: values["node-runtime"],
      image: values.image,
      sandbox: values.sandbox,
      snapshotMode: values["snapshot-mode"],
      memoryMiB: values["memory-mib"] ? intOpt(values["memory-mib"], "memory-mib", 0, 1) : undefined,
      keepAliveMs: intOpt(values["keepalive-seconds"], "keepalive-seconds", 600) * 1000,
      runId: Date.now().toString(36).slice(-6),
    });
  } else if (values.kubeconfig) {
    if (!values.image) throw new Error("--kubeconfig needs --image REF (the trace function's image in a registry the cluster pulls from)");
    if (!values.domain) throw new Error("--kubeconfig needs --domain D (Knative's domain; the provisioner's stack output)");
    const sandbox = (values.sandbox ?? "gvisor") as SandboxKind;
    if (!SANDBOXES.includes(sandbox)) throw new Error(`--sandbox: expected one of ${SANDBOXES.join(", ")}, got ${sandbox}`);
    let kubeconfig: string;
    try {
      kubeconfig = await readFile(values.kubeconfig, "utf8");
    } catch (err) {
      throw new Error(`--kubeconfig: cannot read ${values.kubeconfig}: ${(err as Error).message}`);
    }
    const runId = Date.now().toString(36).slice(-6);
    backend = new KnativeDeployBackend({
      target: { kubeconfig, domain: values.domain, sandbox, namespace: values.namespace },
      services: {
        image: values.image,
        runId,
        minScale: values["min-scale"] ? intOpt(values["min-scale"], "min-scale", 0) : undefined,
        maxScale: values["max-scale"] ? intOpt(values["max-scale"], "max-scale", 1, 1) : undefined,
        maxMemoryMiB: intOpt(values["max-memory-mib"], "max-memory-mib", 256),
      },
      stateDir: path.join(values.out ?? ".", `knative-${runId}`),
      keep: values["keep-functions"],
      port: intOpt(values.port, "port", 80, 1),
      connect: values.connect,
      perRequestConnection: values["per-request-connection"],
      log: (line) => console.error(`loader: ${line}`),
      engineOutput: (text) => process.stderr.write(text),
    });
  } else if (values.endpointsFile) {
    const endpoints = await readEndpointsFile(values.endpointsFile);
    backend = new KnativeBackend(endpoints, {
      port: intOpt(values.port, "port", 80, 1),
      connect: values.connect,
      perRequestConnection: values["per-request-connection"],
    });
  } else throw new Error("give a target: --endpointsFile FILE, --kubeconfig FILE --domain D --image REF, or --node-runtime API --image REF");

  try {
    const { summary } = await runLoader({
      trace,
      backend,
      functions: intOpt(values.functions, "functions", 5, 1),
      seed: intOpt(values.seed, "seed", 1),
      minutes: values.minutes ? intOpt(values.minutes, "minutes", 1, 1) : undefined,
      warmupMinutes: intOpt(values["warmup-minutes"], "warmup-minutes", 0),
      minuteSeconds: intOpt(values["minute-seconds"], "minute-seconds", 60, 0.001),
      interArrival: iat,
      deadlineMs: intOpt(values["deadline-ms"], "deadline-ms", 60_000, 1),
      maxDurationMs: values["max-duration-ms"] ? intOpt(values["max-duration-ms"], "max-duration-ms", 0) : undefined,
      maxMemoryMiB: intOpt(values["max-memory-mib"], "max-memory-mib", 256),
      outDir: values.out ?? ".",
      plots: values.plots,
      progress: values.progress,
    });
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    else {
      console.log(
        `replayed ${summary.minutes} minutes of ${summary.functions.length} functions (${summary.minuteSeconds} s each): ${summary.completed}/${summary.scheduled} completed, ${summary.failed} failed (${JSON.stringify(summary.errorsByCode)})`,
      );
      console.log(
        `response ms: p50 ${summary.responseMs.p50} p99 ${summary.responseMs.p99}; cold starts: ${summary.coldStarts ? summary.coldStarts.total : "n/a (Knative target)"}`,
      );
      for (const [k, f] of Object.entries(summary.files)) console.log(`${k}: ${f}`);
    }
    return summary;
  } finally {
    await backend.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  loaderCommand(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`loader: ${errorMessage(err)}`);
      process.exit(1);
    },
  );
}
