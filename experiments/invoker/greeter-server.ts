// A loopback helloworld.Greeter server for tests and the invoker benchmark. It answers
// "Hello, <name>!"; optionally it fails every k-th call with a given status, to exercise the
// client's failure accounting. Run as a process: `tsx experiments/invoker/greeter-server.ts
// [--port 0] [--host 127.0.0.1]` prints `listening <host>:<port>` and serves until SIGTERM.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { HELLOWORLD_PROTO } from "../targets/grpc-target.js";

export interface GreeterServerOptions {
  host?: string;
  port?: number;
  /** Fail every k-th call (1-based count) with `failCode`. */
  failEvery?: number;
  failCode?: grpc.status;
  /** Answer after this many ms. */
  delayMs?: number;
}

export interface GreeterServer {
  address: string;
  port: number;
  calls(): number;
  /** Distinct client addresses (ip:port) seen: one per connection. */
  peers(): Set<string>;
  /** Distinct :authority values the calls named (the endpoint's host name when dialled via --connect). */
  authorities(): Set<string>;
  close(): Promise<void>;
}

export async function startGreeterServer(opts: GreeterServerOptions = {}): Promise<GreeterServer> {
  const def = protoLoader.loadSync(HELLOWORLD_PROTO, { keepCase: true, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { helloworld: { Greeter: grpc.ServiceClientConstructor } };
  const server = new grpc.Server();
  let count = 0;
  const peers = new Set<string>();
  const authorities = new Set<string>();
  server.addService(pkg.helloworld.Greeter.service, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, { message: string }>, cb: grpc.sendUnaryData<{ message: string }>) => {
      count++;
      peers.add(call.getPeer());
      authorities.add(call.getHost());
      const reply = () => {
        if (opts.failEvery && count % opts.failEvery === 0) cb({ code: opts.failCode ?? grpc.status.INTERNAL, details: `failing call ${count} on purpose` });
        else cb(null, { message: `Hello, ${call.request.name}!` });
      };
      if (opts.delayMs) setTimeout(reply, opts.delayMs);
      else reply();
    },
  });
  const host = opts.host ?? "127.0.0.1";
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `${host}:${port}`,
    port,
    calls: () => count,
    peers: () => peers,
    authorities: () => authorities,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1000).unref();
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } } });
  startGreeterServer({ host: values.host, port: Number(values.port) }).then(
    (s) => {
      console.log(`listening ${s.address}`);
      const stop = () => void s.close().then(() => process.exit(0));
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    },
    (err: unknown) => {
      console.error(`greeter-server: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
