import { afterEach, describe, expect, it } from "vitest";
import { createConnection, createServer, type Server } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FunctionRelay } from "./function-relay.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Sends `payload`, half-closes, and returns the whole reply ("reset:" when the relay dropped the connection). */
function request(port: number, payload: string, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ port, host: "127.0.0.1", localAddress });
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("end", () => resolve(got));
    s.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? resolve(`reset:${got}`) : reject(e)));
    s.end(payload);
  });
}

async function echoOnUnixSocket(tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vhcri-relay-"));
  const path = join(dir, "fn.sock");
  const server: Server = createServer({ allowHalfOpen: true }, (c) => {
    let got = "";
    c.on("data", (d) => (got += d.toString()));
    c.on("end", () => c.end(`${tag}:${got}`));
  });
  await new Promise<void>((r) => server.listen(path, r));
  cleanups.push(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  return path;
}

async function echoOnTcp(tag: string): Promise<number> {
  const server: Server = createServer({ allowHalfOpen: true }, (c) => {
    let got = "";
    c.on("data", (d) => (got += d.toString()));
    c.on("end", () => c.end(`${tag}:${got}`));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as { port: number }).port;
}

async function relayOn(port = 0, allowedPeers?: string[]) {
  const relay = await FunctionRelay.listen("127.0.0.1", port, allowedPeers);
  cleanups.push(() => relay.close());
  return relay;
}

describe("FunctionRelay", () => {
  it("relays TCP connections to a unix-socket endpoint, both ways, a half-closed request included", async () => {
    const relay = await relayOn();
    relay.retarget("i1", { kind: "unix", path: await echoOnUnixSocket("unix") });
    expect(relay.address.host).toBe("127.0.0.1");
    const replies = await Promise.all(["a", "b", "c"].map((x) => request(relay.address.port, x)));
    expect(replies).toEqual(["unix:a", "unix:b", "unix:c"]);
  });

  it("keeps its address when its function is replaced, and reaches the new instance there", async () => {
    const relay = await relayOn();
    const { port } = relay.address;
    relay.retarget("first", { kind: "tcp", host: "127.0.0.1", port: await echoOnTcp("first") });
    expect(await request(port, "x")).toBe("first:x");
    relay.untarget("first");
    expect(relay.targetInstance).toBeUndefined();
    expect(await request(port, "x")).toMatch(/^(reset:)?$/); // no instance: closed at once
    relay.retarget("second", { kind: "unix", path: await echoOnUnixSocket("second") });
    expect(relay.address.port).toBe(port);
    expect(await request(port, "y")).toBe("second:y");
    // A late untarget of the replaced instance does not take the new one away.
    relay.untarget("first");
    expect(relay.targetInstance).toBe("second");
  });

  it("can be re-opened at the same address once closed (a restart of the node runtime)", async () => {
    const first = await FunctionRelay.listen("127.0.0.1", 0);
    const { port } = first.address;
    await first.close();
    const again = await relayOn(port);
    expect(again.address).toEqual({ host: "127.0.0.1", port });
    again.retarget("i", { kind: "tcp", host: "127.0.0.1", port: await echoOnTcp("again") });
    expect(await request(port, "z")).toBe("again:z");
  });

  it("lets only its pod's addresses through", async () => {
    const relay = await relayOn(0, ["127.0.0.2"]);
    relay.retarget("i", { kind: "tcp", host: "127.0.0.1", port: await echoOnTcp("fn") });
    expect(await request(relay.address.port, "from pod", "127.0.0.2")).toBe("fn:from pod");
    expect(await request(relay.address.port, "from elsewhere", "127.0.0.3")).toMatch(/^(reset:)?$/);
  });

  it("closes client connections when the function's socket is gone", async () => {
    const relay = await relayOn();
    relay.retarget("i", { kind: "unix", path: "/nonexistent/vhcri.sock" });
    expect(["", "reset:"]).toContain(await request(relay.address.port, "x"));
  });

  it("refuses to listen on an address another relay holds", async () => {
    const relay = await relayOn();
    await expect(FunctionRelay.listen("127.0.0.1", relay.address.port)).rejects.toThrow(/EADDRINUSE/);
  });
});
