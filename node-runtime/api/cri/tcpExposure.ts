import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { FunctionEndpoint } from "../../sandbox/driver.js";

// The queue-proxy reaches its function over TCP (GUEST_ADDR:GUEST_PORT). Sandboxes that answer on
// a Unix socket (gVisor without netstack networking) get a TCP listener that relays to it.

export interface TcpAddress {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function exposeOnTcp(endpoint: FunctionEndpoint, bindHost: string): Promise<TcpAddress> {
  if (endpoint.kind === "tcp") return { host: endpoint.host, port: endpoint.port, close: async () => undefined };
  const sockets = new Set<Socket>();
  // Half-open on both legs: a client that sends its request and shuts down writing (as gRPC and
  // HTTP/1 clients may) still gets the whole reply.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = createConnection({ path: endpoint.path, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", fail).on("close", () => sockets.delete(client));
    upstream.on("error", fail).on("close", () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, bindHost, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error(`relay for ${endpoint.path}: no TCP address`);
  return {
    host: bindHost,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
