import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { FunctionEndpoint } from "#node-runtime/sandbox/driver.js";

// The address a pod's queue-proxy is given as GUEST_ADDR:GUEST_PORT. It belongs to the pod, not
// to one function instance: when kubelet restarts the function container, the new instance is put
// behind the same address, so the queue-proxy (which read its env once) reaches it unchanged.

export interface RelayAddress {
  host: string;
  port: number;
}

/** A peer address as the pod's own IPs are written (no IPv4-mapped IPv6 prefix). */
const plainIp = (address: string | undefined): string => (address ?? "").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "");

export class FunctionRelay {
  private target: { instanceId: string; endpoint: FunctionEndpoint } | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly address: RelayAddress,
  ) {}

  /**
   * Listens on `host:port` (port 0: any free port). With `allowedPeers`, connections from any
   * other address are closed at once: the relay serves its pod, not every pod on the bridge.
   */
  static async listen(host: string, port: number, allowedPeers?: readonly string[]): Promise<FunctionRelay> {
    const allowed = allowedPeers === undefined ? undefined : new Set(allowedPeers.map(plainIp));
    let relay: FunctionRelay | undefined;
    const server = createServer({ allowHalfOpen: true }, (client) => {
      if (relay === undefined || (allowed !== undefined && !allowed.has(plainIp(client.remoteAddress)))) {
        client.destroy();
        return;
      }
      relay.connect(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === "string") throw new Error(`function relay on ${host}: no TCP address`);
    relay = new FunctionRelay(server, { host, port: bound.port });
    return relay;
  }

  /** The instance connections go to now, if any. */
  get targetInstance(): string | undefined {
    return this.target?.instanceId;
  }

  /** New connections go to this instance; open ones stay with the instance they reached. */
  retarget(instanceId: string, endpoint: FunctionEndpoint): void {
    this.target = { instanceId, endpoint };
  }

  /** The instance is gone: new connections are closed until the next `retarget`. */
  untarget(instanceId: string): void {
    if (this.target?.instanceId === instanceId) this.target = undefined;
  }

  private connect(client: Socket): void {
    const target = this.target;
    if (target === undefined) {
      client.destroy();
      return;
    }
    const endpoint = target.endpoint;
    // Half-open on both legs: a client that sends its request and shuts down writing (as gRPC and
    // HTTP/1 clients may) still gets the whole reply.
    const upstream =
      endpoint.kind === "unix"
        ? createConnection({ path: endpoint.path, allowHalfOpen: true })
        : createConnection({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    this.sockets.add(client).add(upstream);
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", fail).on("close", () => this.sockets.delete(client));
    upstream.on("error", fail).on("close", () => this.sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
