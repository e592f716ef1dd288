// `npm run invoke -- …`: drives the functions of an endpoints.json (vSwarm's format) at a target
// rate, or instances of the node runtime through its API. See docs/experiments.md.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { GrpcTarget } from "../targets/grpc-target.js";
import { HttpTarget } from "../targets/http-target.js";
import { NodeRuntimeTarget } from "../targets/node-runtime-target.js";
import type { Target } from "../targets/target.js";
import { EndpointsError, readEndpointsFile } from "./endpoints.js";
import { InvokerError, runInvoker, type InvokerSummary } from "./run.js";
import { MAX_SENDERS } from "./sender-worker.js";

export const USAGE = `usage: invoke [options]
  --endpointsFile FILE   vSwarm endpoints.json [{hostname, eventing, matchers}] (default endpoints.json)
  --node-runtime API     invoke node-runtime instances instead (unix:/path or host:port) …
  --instances ID,ID      … these instances (they must be running)
  --protocol grpc|http   helloworld.Greeter/SayHello (default) or an HTTP GET/POST
  --path /P              HTTP path (default /)
  --port N               the port functions listen on (default 80, as vSwarm)
  --connect HOST:PORT    dial this address (e.g. the ingress) and send the hostname as authority/Host
  --rps R                target requests per second (default 1)
  --time S               measured seconds (default 5)
  --warmup S             seconds at the same rate before, not counted (default 0)
  --distribution D       uniform (fixed interval, default) or poisson
  --seed N               seed of the Poisson arrivals (default 1)
  --per-request-connection   a new connection for every request (vSwarm's method)
  --sender thread|loop   send from a thread of its own (default) or from the main event loop
  --senders N            sender threads sharing the schedule, request i from thread i mod N (default 2;
                         each thread has its own connection per endpoint)
  --sender-nice=N        nice value of the sending threads (e.g. --sender-nice=-10; needs CAP_SYS_NICE)
  --sender-realtime=P    run the sender threads at real-time priority P (SCHED_FIFO, 1-99; needs
                         CAP_SYS_NICE): other processes cannot delay a send; at rates that keep the
                         threads busy they take the cores from everything else (5% of each second left)
  --wake timer|poll|thread   how the sender wakes for due times: a timerfd (default; falls back to
                         poll, and says so, without the native addon), setImmediate polling, or a timer thread
  --deadline-ms N        per-request deadline (default 30000)
  --name S               the Greeter request's name (default "Invoke relay"); with http, a body to POST
  --latf NAME            latency file suffix: rps<real>_<NAME> (default lat.csv)
  --out DIR              output directory (default .)
  --no-plots             skip the SVG/PNG plots
  --no-preflight         skip the one request per endpoint made before the run
  --progress / --no-progress
  --json                 print the summary as JSON`;

export async function buildTargets(
  values: Record<string, string | boolean | undefined>,
): Promise<{ targets: Target[]; describe: Record<string, unknown>; cleanup: () => void }> {
  const perRequest = values["per-request-connection"] === true;
  const connection = perRequest ? "per-request" : "reused";
  if (typeof values["node-runtime"] === "string") {
    const ids = String(values.instances ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!ids.length) throw new InvokerError("--node-runtime needs --instances ID[,ID…] (running instances; start them with `npm run node-runtime -- start`)");
    const api = new ApiClient(values["node-runtime"]);
    return {
      targets: ids.map((id) => new NodeRuntimeTarget(api, id)),
      describe: { protocol: "node-runtime", api: values["node-runtime"] },
      cleanup: () => api.close(),
    };
  }
  const file = typeof values.endpointsFile === "string" ? values.endpointsFile : "endpoints.json";
  const endpoints = await readEndpointsFile(file);
  const eventing = endpoints.findIndex((e) => e.eventing);
  if (eventing >= 0) {
    throw new EndpointsError(
      `${file}: entry ${eventing} (${endpoints[eventing]!.hostname}): eventing endpoints are timed by vSwarm's TimeseriesDB, which this invoker does not drive; remove them or set "eventing": false`,
    );
  }
  const port = Number(values.port ?? 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvokerError(`--port: expected 1-65535, got ${values.port}`);
  const connect = typeof values.connect === "string" ? values.connect : undefined;
  const protocol = values.protocol ?? "grpc";
  let targets: Target[];
  if (protocol === "grpc") targets = endpoints.map((e) => new GrpcTarget({ address: `${e.hostname}:${port}`, connect, perRequestConnection: perRequest }));
  else if (protocol === "http") {
    const p = typeof values.path === "string" ? values.path : "/";
    targets = endpoints.map(
      (e) => new HttpTarget({ url: `http://${e.hostname}:${port}${p.startsWith("/") ? p : `/${p}`}`, connect, perRequestConnection: perRequest }),
    );
  } else throw new InvokerError(`--protocol: expected grpc or http, got ${String(protocol)}`);
  return {
    targets,
    describe: { protocol, connection, endpointsFile: file, port },
    cleanup: () => {
      for (const t of targets) t.close();
    },
  };
}

const num = (v: unknown, name: string, dflt: number) => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvokerError(`--${name}: expected a number, got ${String(v)}`);
  return n;
};

export async function invokeCommand(argv: string[]): Promise<InvokerSummary> {
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      endpointsFile: { type: "string" },
      "node-runtime": { type: "string" },
      instances: { type: "string" },
      protocol: { type: "string" },
      path: { type: "string" },
      port: { type: "string" },
      connect: { type: "string" },
      rps: { type: "string" },
      time: { type: "string" },
      warmup: { type: "string" },
      distribution: { type: "string" },
      seed: { type: "string" },
      "per-request-connection": { type: "boolean" },
      wake: { type: "string" },
      sender: { type: "string" },
      senders: { type: "string" },
      "sender-nice": { type: "string" },
      "sender-realtime": { type: "string" },
      "deadline-ms": { type: "string" },
      name: { type: "string" },
      latf: { type: "string" },
      out: { type: "string" },
      plots: { type: "boolean", default: true },
      preflight: { type: "boolean", default: true },
      progress: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const distribution = values.distribution ?? "uniform";
  if (distribution !== "uniform" && distribution !== "poisson") throw new InvokerError(`--distribution: expected uniform or poisson, got ${distribution}`);
  const wake = values.wake ?? "timer";
  if (wake !== "timer" && wake !== "poll" && wake !== "thread") throw new InvokerError(`--wake: expected timer, poll or thread, got ${wake}`);
  const sender = values.sender ?? "thread";
  if (sender !== "thread" && sender !== "loop") throw new InvokerError(`--sender: expected thread or loop, got ${sender}`);
  const senderNice = values["sender-nice"] === undefined ? undefined : num(values["sender-nice"], "sender-nice", 0);
  if (senderNice !== undefined && (!Number.isInteger(senderNice) || senderNice < -20 || senderNice > 19))
    throw new InvokerError(`--sender-nice: expected a whole number from -20 to 19, got ${values["sender-nice"]}`);
  const senders = values.senders === undefined ? undefined : num(values.senders, "senders", 0);
  if (senders !== undefined && (!Number.isInteger(senders) || senders < 1 || senders > MAX_SENDERS))
    throw new InvokerError(`--senders: expected a whole number from 1 to ${MAX_SENDERS}, got ${values.senders}`);
  const senderRealtime = values["sender-realtime"] === undefined ? undefined : num(values["sender-realtime"], "sender-realtime", 0);
  if (senderRealtime !== undefined && (!Number.isInteger(senderRealtime) || senderRealtime < 1 || senderRealtime > 99))
    throw new InvokerError(`--sender-realtime: expected a whole number from 1 to 99, got ${values["sender-realtime"]}`);
  const { targets, describe, cleanup } = await buildTargets(values);
  try {
    const { summary } = await runInvoker({
      targets,
      rps: num(values.rps, "rps", 1),
      durationS: num(values.time, "time", 5),
      warmupS: num(values.warmup, "warmup", 0),
      distribution,
      seed: num(values.seed, "seed", 1),
      deadlineMs: num(values["deadline-ms"], "deadline-ms", 30_000),
      // HTTP: a GET unless --name gives a body to POST.
      payload: values.name ?? (describe.protocol === "http" ? "" : "Invoke relay"),
      outDir: values.out ?? ".",
      latf: values.latf,
      plots: values.plots,
      preflight: values.preflight,
      progress: values.progress,
      wake,
      sender,
      ...(senders !== undefined ? { senders } : {}),
      ...(senderNice !== undefined ? { senderNice } : {}),
      ...(senderRealtime !== undefined ? { senderRealtime } : {}),
      describe: { ...describe, sender, wake },
    });
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    else printSummary(summary);
    return summary;
  } finally {
    cleanup();
  }
}

export function printSummary(s: InvokerSummary): void {
  const l = s.latencyMs;
  console.log(
    `target ${s.target.rps} req/s (${s.target.distribution}) for ${s.target.durationS} s: ${s.completed}/${s.issued} completed, achieved ${s.achievedRps} req/s (${(s.achievedRatio * 100).toFixed(2)}%)`,
  );
  console.log(`latency ms: p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max}`);
  console.log(
    `send-schedule error ms: p50 ${s.scheduleErrorMs.p50} p99 ${s.scheduleErrorMs.p99} max ${s.scheduleErrorMs.max}; ${s.sender.lateOver1Ms} sends over 1 ms late (${s.sender.lateOver1MsDuringGc} during a GC pause; ${s.sender.gcPauses.count} pauses, ${s.sender.gcPauses.totalMs} ms), ${s.sender.involuntaryContextSwitches} involuntary context switches`,
  );
  for (const [code, count] of Object.entries(s.errorsByCode)) console.log(`failed ${count} × ${s.errorExamples[code] ?? code}`);
  for (const [k, f] of Object.entries(s.files)) console.log(`${k}: ${f}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  invokeCommand(process.argv.slice(2)).then(
    (s) => process.exit(s.failed > 0 && s.completed === 0 ? 1 : 0),
    (err: unknown) => {
      const known = err instanceof InvokerError || err instanceof EndpointsError || (err as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION";
      console.error(`invoke: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}`);
      process.exit(known ? 2 : 1);
    },
  );
}
