// The `node-runtime` CLI's client commands, run as a real process against an API server backed by
// the orchestrator and the process driver double.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "#node-runtime/api/api-server.js";
import { IMAGE, orchestratorHarness } from "./orchestrator-on-process-driver.js";

const run = promisify(execFile);
const MAIN = path.resolve("node-runtime/cli/main.ts");
const TSX = path.resolve("node_modules/.bin/tsx");

let h: Awaited<ReturnType<typeof orchestratorHarness>>;
let server: ApiServer;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [MAIN, ...args, "--api", server.target], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  h = await orchestratorHarness();
  server = await startApiServer(h, { socket: path.join(h.root, "api.sock") });
});
afterAll(async () => {
  await server?.close();
  await h?.dispose();
});

describe("node-runtime CLI", () => {
  it("start, invoke, ls, stop, snapshot ls/rm, metrics", async () => {
    const started = await cli("start", "--image", IMAGE, "--revision", "cli-1", "--id", "c1", "--invoke", "cli");
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/^c1: revision cli-1 on gvisor, boot \(running\) at unix:.*\n {2}cold start: GetImage=\d+µs/);
    expect(started.stdout).toMatch(/Hello, cli! \[boot\]/);
    expect((await cli("invoke", "c1", "--name", "again")).stdout).toMatch(/^Hello, again! \[boot\] \(\d+µs\)/);
    const ls = await cli("ls");
    expect(ls.stdout).toMatch(/^ID\s+REVISION\s+SANDBOX\s+START\s+STATE\s+ENDPOINT\s+PID\nc1\s+cli-1\s+gvisor\s+boot\s+running\s+unix:/);
    expect((await cli("stop", "c1")).stdout).toBe("stopped c1 (snapshot: taken)\n");
    const json = JSON.parse((await cli("snapshot", "ls", "--json")).stdout);
    expect(json.snapshots).toMatchObject([{ revision: "cli-1", files: 2 }]);
    expect((await cli("metrics", "--csv")).stdout).toMatch(/^FuncName,AddInstance,StdDev,.*\ncli-1\/gvisor\/boot,/);
    expect((await cli("snapshot", "rm", "cli-1")).stdout).toBe("deleted snapshot of cli-1\n");
  }, 240_000);

  it("prints clear errors with gRPC codes and exits non-zero", async () => {
    const missing = await cli("invoke", "ghost");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('node-runtime: NOT_FOUND: no instance "ghost"\n');
    const bad = await cli("start", "--image", IMAGE, "--revision", "a/b");
    expect(bad.stderr).toMatch(/^node-runtime: INVALID_ARGUMENT: revision "a\/b" is invalid/);
    const usage = await cli("start");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^node-runtime: start: --image is required\n\nusage:/);
    const down = await run(TSX, [MAIN, "ls", "--api", `unix:${h.root}/nothing.sock`]).catch((e) => e);
    expect(down.stderr).toMatch(/UNAVAILABLE: cannot reach the node runtime API/);
  }, 240_000);
});
