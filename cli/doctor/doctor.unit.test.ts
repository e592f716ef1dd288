// doctor against misbehaving SSH servers run in this process (ssh2's server): a host that never
// answers a command, one that drops the connection after login, and one whose output is
// hostile. Each ends as that host's rows; the other hosts' rows are kept. And stack files that
// are not stack files, or whose secrets are encrypted, end in one clear line.
import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "#components/config/validate.js";
import type { StackConfig } from "#components/config/schema.js";
import { runDoctor } from "./run-doctor.js";
import { formatTable } from "./table.js";
import { sanitize } from "./sanitize.js";
import { loadStack, parseStackFile } from "./load-stack.js";

type Behaviour = "healthy" | "hang" | "drop" | "hostile";

const hostKey = ssh2.utils.generateKeyPairSync("ed25519");
const clientKey = ssh2.utils.generateKeyPairSync("ed25519");
const HOSTILE_LINE = `os_name=\u001b]0;owned\u0007\u001b[2J\u001b[31mRED\u001b[0m ${"A".repeat(20_000)}`;

const FACTS =
  "time=0\nsudo=root\nos_id=debian\nos_version=12\nos_name=Debian GNU/Linux 12\narch=x86_64\nswap_kb=0\ndisk_free_bytes=99999999999\nroot_rotational=0\n";

function startServer(behaviour: Behaviour): Promise<{ port: number; close: () => void }> {
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on("error", () => {});
    client.on("authentication", (ctx) => (ctx.method === "publickey" ? ctx.accept() : ctx.reject(["publickey"])));
    client.on("session", (accept) => {
      const session = accept();
      session.on("exec", (acceptExec, _reject, info) => {
        const channel = acceptExec();
        if (behaviour === "hang") return;
        if (behaviour === "drop") {
          client.end();
          return;
        }
        const facts = info.command.includes("os-release");
        channel.write(
          behaviour === "hostile" ? `${HOSTILE_LINE}\n${facts ? FACTS.replace(/^os_name=.*\n/m, "") : "refused\u001b[1A"}\n` : facts ? FACTS : "refused\n",
        );
        channel.exit(0);
        channel.end();
      });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ port: (server.address() as { port: number }).port, close: () => server.close() })),
  );
}

function publicKeyLine(): string {
  return hostKey.public.trim().split(/\s+/).slice(0, 2).join(" ");
}

function stackFor(ports: Record<string, number>, keyFile: string): StackConfig {
  const names = Object.keys(ports);
  const base = parseStackConfig({
    target: "hosts",
    sandbox: "gvisor",
    network: { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" },
    hosts: names.map((name, i) => ({
      name,
      address: `192.0.2.${10 + i}`,
      role: i === 0 ? "control-plane" : "worker",
      sshKey: { file: keyFile },
      hostKey: publicKeyLine(),
    })),
  });
  // The servers listen on loopback, which the stack schema rightly refuses for real hosts.
  return { ...base, hosts: base.hosts.map((h) => ({ ...h, address: "127.0.0.1", port: ports[h.name]! })) };
}

describe("doctor against misbehaving hosts", () => {
  const servers: { close: () => void }[] = [];
  const ports: Record<string, number> = {};
  let keyDir = "";
  let keyFile = "";

  beforeAll(async () => {
    for (const [name, behaviour] of [
      ["good", "healthy"],
      ["hangs", "hang"],
      ["drops", "drop"],
      ["evil", "hostile"],
    ] as const) {
      const server = await startServer(behaviour);
      servers.push(server);
      ports[name] = server.port;
    }
    keyDir = mkdtempSync(join(tmpdir(), "doctor-unit-"));
    keyFile = join(keyDir, "id");
    writeFileSync(keyFile, clientKey.private, { mode: 0o600 });
  });
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it("reports a hanging host and a dropping host as their own failures and keeps the other hosts' rows", async () => {
    const config = stackFor(ports, keyFile);
    const started = Date.now();
    const rows = await runDoctor(config, { keyFile, execTimeoutS: 2 });
    expect(Date.now() - started).toBeLessThan(15_000);
    const row = (host: string, check: string) => rows.find((r) => r.host === host && r.check === check);
    expect(row("hangs", "commands")).toMatchObject({
      verdict: "fail",
      detail: expect.stringMatching(/accepted SSH, then: no answer to a command within 2 s$/),
    });
    expect(row("drops", "commands")).toMatchObject({
      verdict: "fail",
      detail: expect.stringMatching(/accepted SSH, then: (the host closed the connection|the connection failed)/),
    });
    expect(row("good", "os")).toMatchObject({ verdict: "pass", detail: "Debian GNU/Linux 12" });
    expect(row("good", "sudo")).toMatchObject({ verdict: "pass" });
    expect(rows.filter((r) => r.host === "good" && r.check.startsWith("port ")).length).toBeGreaterThan(0);
  }, 30_000);

  it("prints a hostile host's output without escape sequences and with long lines cut", async () => {
    const rows = await runDoctor(stackFor({ good: ports.good!, evil: ports.evil! }, keyFile), { keyFile, execTimeoutS: 5 });
    const table = formatTable(rows);
    expect(table).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(table).toMatch(/evil +os +pass +RED A+… \(\d+ more characters\)/);
    for (const line of table.split("\n")) expect(line.length).toBeLessThan(600);
    expect(table).toMatch(/… \(\d+ more characters\)/);
  }, 30_000);

  it("sanitises escape sequences, control characters and long text", () => {
    expect(sanitize("a\u001b[31mb\u001b[0mc\u0007d\u009be\u202ef")).toBe("abcdef");
    expect(sanitize("x".repeat(10), 4)).toBe("xxxx… (6 more characters)");
    expect(sanitize("line1\nline2\r\n")).toBe("line1 line2 ");
  });
});

describe("doctor's stack file", () => {
  let dir = "";
  const run = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
    new Promise((resolve) =>
      execFile("npx", ["tsx", "cli/doctor.ts", ...args], { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, out: stdout, err: stderr }),
      ),
    );
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const directory = (name: string) => {
    const path = join(dir, name);
    mkdirSync(path);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "doctor-files-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses files that are not stack files with one line and exit 2", async () => {
    const cases: [string, RegExp][] = [
      [
        file("package.json", JSON.stringify({ name: "vhive-pulumi", version: "1.0.0", scripts: {} })),
        /is not a Pulumi stack file: unknown top-level keys "name", "version", "scripts"/,
      ],
      [file("empty.yaml", ""), /is empty: a stack file has a top-level "config:" mapping$/],
      [file("typo.yaml", "confg:\n  vhive:sandbox: gvisor\n"), /unknown top-level key "confg" \(did you mean config\?\)/],
      [file("syntax.yaml", "config:\n  vhive:sandbox: [gvisor\n"), /YAML syntax error at line \d+: /],
      [directory("adir"), /is a directory, not a stack file$/],
    ];
    for (const [path, message] of cases) {
      const { code, out, err } = await run(path);
      expect(code).toBe(2);
      expect(out).toBe("");
      expect(err.trim().split("\n")).toHaveLength(1);
      expect(err.trim()).toMatch(message);
      expect(err).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
  }, 120_000);

  it("checks a stack whose SSH key is an encrypted secret, and says which secret needs --key-file", async () => {
    const stack = parseStackFile(
      stringify({
        config: {
          "vhive:target": "hosts",
          "vhive:hosts": [{ name: "cp", address: "192.0.2.10", role: "control-plane", sshKey: { secret: "sshKey" }, allowUnknownHostKey: true }],
          "vhive:network": { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" },
          "vhive:sshKey": { secure: "v1:AAAABBBB" },
        },
      }),
    );
    const loaded = loadStack(stack);
    expect([...loaded.encrypted]).toEqual(["sshKey"]);
    const rows = await runDoctor(loaded.config, { encrypted: loaded.encrypted, plainSecrets: loaded.plainSecrets });
    expect(rows).toEqual([
      {
        host: "cp",
        check: "ssh",
        verdict: "fail",
        detail: 'hosts[0].sshKey is the secret config key "sshKey", encrypted in the stack file: doctor cannot decrypt it',
        remedy: "pass the same private key with --key-file <path> (pulumi config get sshKey prints it where the stack's passphrase is set)",
      },
    ]);
  });

  it("refuses an encrypted value that is not a secret reference, naming it", () => {
    expect(() => loadStack(parseStackFile("config:\n  vhive:sandbox:\n    secure: v1:AAAA\n"))).toThrow(
      "vhive:sandbox is encrypted but not a { secret: <key> } reference: only secrets (SSH keys, MinIO credentials) may be set with --secret",
    );
  });
});
