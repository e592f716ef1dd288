import { createServer, type Server } from "node:http";
import type { RuntimeMetrics } from "./runtime-metrics.js";

/**
 * Prometheus scrape endpoint: `/metrics` (exposition format), `/metrics.csv` (vHive bench CSV) and
 * `/healthz` (200 while the runtime serves; the provisioner's unit checks it).
 */
export async function startMetricsExporter(metrics: RuntimeMetrics, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405).end();
    } else if (url === "/metrics") {
      metrics.prometheusText().then(
        (text) => res.writeHead(200, { "content-type": metrics.prometheusContentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (url === "/metrics.csv") {
      res.writeHead(200, { "content-type": "text/csv" }).end(metrics.csv());
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("try /metrics, /metrics.csv or /healthz\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`metrics exporter cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
