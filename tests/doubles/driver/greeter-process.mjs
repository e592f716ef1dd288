// Test double of a function inside a sandbox: a real process serving vHive's helloworld Greeter on
// a Unix socket, started by ProcessDriver (which stands in for the gVisor/containerd/Firecracker
// drivers). It says in its reply whether it booted or was restored, and from which snapshot.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const socket = process.env.DOUBLE_SOCKET;
const origin = process.env.DOUBLE_ORIGIN ?? "boot";
const proto = process.env.DOUBLE_PROTO;
const crashMs = Number(process.env.DOUBLE_CRASH_MS ?? "0");
const neverListen = process.env.DOUBLE_NEVER_LISTEN === "1";
let snapshotTag = "";
if (process.env.DOUBLE_STATE_FILE) snapshotTag = JSON.parse(readFileSync(process.env.DOUBLE_STATE_FILE, "utf8")).tag;

if (crashMs > 0) setTimeout(() => process.exit(3), crashMs);
if (neverListen) {
  setInterval(() => undefined, 1 << 30);
} else {
  const def = protoLoader.loadSync(proto, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def);
  const server = new grpc.Server();
  server.addService(pkg.helloworld.Greeter.service, {
    SayHello: (call, cb) => cb(null, { message: `Hello, ${call.request.name}! [${origin}${snapshotTag ? ` ${snapshotTag}` : ""}]` }),
  });
  server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      console.error(err);
      process.exit(2);
    }
  });
}
