import { parseArgs } from "node:util";
import { startApiServer } from "../api/api-server.js";
import { loadRuntimeConfig, type RuntimeConfig } from "../config/runtime-config.js";
import { startMetricsExporter } from "../metrics/http-exporter.js";
import { createNodeRuntime, type NodeRuntime } from "../index.js";
export { SERVE_USAGE } from "./serve-usage.js";

const int = (v: string | undefined, flag: string) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${flag}: expected an integer, got ${JSON.stringify(v)}`);
  return n;
};

/** The CRI front end (node-runtime/api/cri) on top of this runtime's orchestrator. */
async function startCriFrontEnd(runtime: NodeRuntime, socketPath: string) {
  const { CriProxy } = await import("../api/cri/cri-proxy.js");
  const { OrchestratorFunctionBackend } = await import("../api/cri/orchestrator-backend.js");
  const { config } = runtime;
  const proxy = new CriProxy({
    socketPath,
    upstream: config.criUpstream ?? config.containerdAddress,
    stateFile: config.criStateFile,
    backend: new OrchestratorFunctionBackend(runtime.orchestrator),
    hostNetworkRelayHost: config.criRelayHost,
    logger: runtime.logger,
  });
  await proxy.start();
  return proxy;
}

/** `serve`'s command line to the runtime config it runs with (flags override the config file). */
export async function serveConfigFromArgs(argv: string[]): Promise<RuntimeConfig> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      sandbox: { type: "string" },
      sandboxes: { type: "string" },
      "snapshot-mode": { type: "string" },
      socket: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "data-dir": { type: "string" },
      "disk-budget": { type: "string" },
      "metrics-port": { type: "string" },
      "cri-socket": { type: "string" },
      "cri-upstream": { type: "string" },
      "cri-relay-host": { type: "string" },
      "gvisor-network": { type: "string" },
      "log-level": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  return loadRuntimeConfig(values.config, {
    sandbox: values.sandbox,
    sandboxes: values.sandboxes?.split(",").map((s) => s.trim()),
    snapshotMode: values["snapshot-mode"],
    socket: values.socket,
    port: int(values.port, "--port"),
    host: values.host,
    dataDir: values["data-dir"],
    diskBudget: values["disk-budget"],
    metricsPort: int(values["metrics-port"], "--metrics-port"),
    criSocket: values["cri-socket"],
    criUpstream: values["cri-upstream"],
    criRelayHost: values["cri-relay-host"],
    gvisorNetwork: values["gvisor-network"],
    logLevel: values["log-level"],
  });
}

/** Runs the gRPC server until SIGINT/SIGTERM, then stops every instance and exits. */
export async function serveCommand(argv: string[]): Promise<void> {
  const config = await serveConfigFromArgs(argv);
  const runtime = await createNodeRuntime(config);
  const log = runtime.logger;
  const listen = config.port !== undefined ? { host: config.host, port: config.port } : { socket: config.socket! };
  const server = await startApiServer({ ...runtime, logger: log }, listen);
  const exporter = config.metricsPort !== undefined ? await startMetricsExporter(runtime.metrics, config.host, config.metricsPort) : undefined;
  const cri = config.criSocket ? await startCriFrontEnd(runtime, config.criSocket) : undefined;
  log.info(
    {
      api: server.target,
      metricsPort: exporter?.port,
      criSocket: cri?.socketPath,
      sandboxes: runtime.orchestrator.sandboxKinds,
      snapshotMode: config.snapshotMode,
      dataDir: config.dataDir,
    },
    "node runtime serving",
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "shutting down: stopping instances");
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await cri?.stop();
  await server.close();
  await exporter?.close();
  await runtime.close();
  log.info("node runtime stopped");
}
