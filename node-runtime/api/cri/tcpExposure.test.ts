import { afterEach, describe, expect, it } from "vitest";
import { createConnection, createServer, type Server } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exposeOnTcp } from "./tcpExposure.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function request(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(port, "127.0.0.1");
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("end", () => resolve(got));
    s.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? resolve(`reset:${got}`) : reject(e)));
    s.end(payload);
  });
}

describe("exposeOnTcp", () => {
  it("relays TCP connections to a unix-socket endpoint, both ways", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vhcri-relay-"));
    const path = join(dir, "fn.sock");
    const server: Server = createServer((c) => c.on("data", (d) => c.end(`echo:${d.toString()}`)));
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(async () => {
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    });
    const exposed = await exposeOnTcp({ kind: "unix", path }, "127.0.0.1");
    cleanups.push(exposed.close);
    expect(exposed.host).toBe("127.0.0.1");
    const replies = await Promise.all(["a", "b", "c"].map((x) => request(exposed.port, x)));
    expect(replies).toEqual(["echo:a", "echo:b", "echo:c"]);
  });

  it("hands TCP endpoints through untouched", async () => {
    const exposed = await exposeOnTcp({ kind: "tcp", host: "10.0.0.2", port: 50051 }, "127.0.0.1");
    expect([exposed.host, exposed.port]).toEqual(["10.0.0.2", 50051]);
  });

  it("closes client connections when the function's socket is gone", async () => {
    const exposed = await exposeOnTcp({ kind: "unix", path: "/nonexistent/vhcri.sock" }, "127.0.0.1");
    cleanups.push(exposed.close);
    expect(["", "reset:"]).toContain(await request(exposed.port, "x"));
  });
});
