import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { RuntimeMetrics } from "../metrics/runtime-metrics.js";
import type { Orchestrator } from "../orchestrator/orchestrator.js";
import type { SnapshotStore } from "../snapshots/snapshot-store.js";
import { apiDefinitions } from "./proto-definitions.js";
import { nodeRuntimeHandlers } from "./node-runtime-service.js";
import { vhiveOrchestratorHandlers } from "./vhive-orchestrator-service.js";
import { errorMessage } from "../system/error-message.js";

export type ApiListen = { socket: string } | { host: string; port: number };

export interface ApiServer {
  /** gRPC target clients dial: `unix:/path` or `host:port` (the bound port when 0 was asked for). */
  readonly target: string;
  close(): Promise<void>;
}

/** Serves vHive's Orchestrator service and our NodeRuntime service on one Unix socket or TCP port. */
export async function startApiServer(
  deps: { orchestrator: Orchestrator; snapshots: SnapshotStore; metrics: RuntimeMetrics; logger?: Logger },
  listen: ApiListen,
): Promise<ApiServer> {
  const defs = apiDefinitions();
  const server = new grpc.Server();
  const onError = (err: unknown) => deps.logger?.info({ err: errorMessage(err) }, "API call failed");
  server.addService(defs.vhiveOrchestrator.service, vhiveOrchestratorHandlers(deps.orchestrator, onError));
  server.addService(defs.nodeRuntime.service, nodeRuntimeHandlers(deps, onError));

  let address: string;
  if ("socket" in listen) {
    await mkdir(path.dirname(listen.socket), { recursive: true });
    // A socket file left by a previous run would make the bind fail with EADDRINUSE.
    await rm(listen.socket, { force: true });
    address = `unix:${listen.socket}`;
  } else {
    address = `${listen.host}:${listen.port}`;
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(p),
    ),
  );
  const target = "socket" in listen ? address : `${listen.host}:${port}`;
  return {
    target,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Calls in flight get a moment, then the server goes regardless.
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }).then(async () => {
        if ("socket" in listen) await rm(listen.socket, { force: true });
      }),
  };
}
