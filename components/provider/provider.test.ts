// The provider's pure parts: the runner that carries scripts to hosts, secrets in wire form,
// input checks, and HostCommand's diff (what re-runs a step, what moves it to another machine).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { hostCommand } from "./host-command.js";
import { InputReader } from "./inputs.js";
import { REMOTE_RUNNER, remoteRunnerCommand } from "./runner.js";
import { reveal, secret } from "./secrets.js";
import { resourceName, resourceType } from "./urn.js";

const URN = "urn:pulumi:dev::vhive::vhive:nodes:HostBootstrap$vhive:index:HostCommand::vht-1-sysctl";
const base = {
  connection: { host: "192.0.2.10", port: 22, user: "vhive", privateKey: secret("key text") },
  hostName: "vht-1",
  create: "#!/usr/bin/env bash\necho create",
  delete: "#!/usr/bin/env bash\necho delete",
  check: "#!/usr/bin/env bash\ntrue",
  converged: true,
};

describe("the runner", () => {
  it("is shellcheck-clean and fixed: nothing of a script is on its command line", () => {
    const result = spawnSync("shellcheck", ["-s", "bash", "-"], { input: REMOTE_RUNNER, encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(remoteRunnerCommand()).toMatchSnapshot();
  });

  it("runs the script it reads on stdin, with stdin closed for the script, and removes its file", () => {
    const script = 'echo "ran as $(id -u)"; cat; echo "file=$0"';
    const result = spawnSync("bash", ["-c", REMOTE_RUNNER], { input: script, encoding: "utf8", env: { ...process.env, TMPDIR: "/tmp" } });
    expect(result.status).toBe(0);
    const file = /file=(\S+)/.exec(result.stdout)![1]!;
    expect(result.stdout).toContain(`ran as ${process.getuid!()}`);
    expect(spawnSync("test", ["-e", file]).status).toBe(1);
  });

  it("passes the script's exit status on", () => {
    expect(spawnSync("bash", ["-c", REMOTE_RUNNER], { input: "exit 7", encoding: "utf8" }).status).toBe(7);
  });
});

describe("secrets in wire form", () => {
  it("reveal unwraps nested secrets and leaves the rest", () => {
    expect(reveal({ a: secret({ b: secret("x") }), c: [secret(1), 2] })).toEqual({ a: { b: "x" }, c: [1, 2] });
  });
});

describe("input checks", () => {
  it("report every problem with its property path", () => {
    const r = new InputReader({ connection: { host: 5, port: 70000 }, create: undefined });
    r.object("connection")?.string("host", true);
    r.object("connection")?.integer("port", 1, 65535);
    r.string("create", true);
    expect(r.failures).toEqual([
      { property: "connection.host", reason: "must be a string" },
      { property: "connection.port", reason: "must be a whole number from 1 to 65535" },
      { property: "create", reason: "is required" },
    ]);
  });

  it("HostCommand's check names a missing connection field", async () => {
    const { failures } = await hostCommand.check(URN, {}, { ...base, connection: { port: 22, user: "vhive" } });
    expect(failures).toEqual([{ property: "connection.host", reason: "is required" }]);
  });
});

describe("HostCommand diff", () => {
  const diff = (news: Record<string, unknown>) => hostCommand.diff("id", URN, base, { ...base, ...news });

  it("no change when nothing differs (a secret re-encrypted is the same value)", async () => {
    expect(await diff({ connection: { ...base.connection, privateKey: secret("key text") } })).toMatchObject({ changes: false });
  });

  it("a changed script is an update in place, never a replacement", async () => {
    const result = await diff({ create: "#!/usr/bin/env bash\necho new" });
    expect(result).toMatchObject({ changes: true, deleteBeforeReplace: false });
    expect(result.replaces).toBeUndefined();
  });

  it("drift found at refresh (converged false) makes the step run again", async () => {
    expect(await hostCommand.diff("id", URN, { ...base, converged: false }, base)).toMatchObject({ changes: true });
  });

  it("another machine replaces the step (created there, deleted from the old one)", async () => {
    expect(await diff({ connection: { ...base.connection, host: "192.0.2.11" } })).toMatchObject({ changes: true, replaces: ["connection"] });
  });
});

describe("URNs", () => {
  it("give the resource's own type and name", () => {
    expect(resourceType(URN)).toBe("vhive:index:HostCommand");
    expect(resourceName(URN)).toBe("vht-1-sysctl");
  });
});
