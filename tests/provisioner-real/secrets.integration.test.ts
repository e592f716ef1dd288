// Secrets through the real engine: canary values for the SSH key (set with `config set --secret`),
// a bootstrap token, a kubeconfig and MinIO credentials appear nowhere in the state file, the
// engine's output, the host's process list while the steps run, or the host's logs.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BootstrapToken, HostCommand } from "#components/provider/index.js";
import { downHosts, hostExec, SCRIPT, unavailableReason, upHosts, type TestHost } from "../hosts/test-hosts.js";
import { EngineStack, rawStackFor } from "./real-provisioner.js";

const HOST = 25;
const execFileAsync = promisify(execFile);
const skip = unavailableReason();
if (skip) console.log(`real-engine secrets tests skipped: ${skip}`);

const CANARIES = {
  token: "canary-token-4f1d9c.0a7e3b5d2c9f8e1a",
  kubeconfig: "canary-kubeconfig-client-key-9b2e7d41",
  minioSecretKey: "canary-minio-secret-6c3a0f95",
};

describe.skipIf(skip !== undefined)("secrets through the real engine", () => {
  let host: TestHost;
  let keyText = "";
  let stack: EngineStack | undefined;
  const processLists: string[] = [];

  beforeAll(async () => {
    host = (await upHosts([HOST]))[0]!;
    keyText = readFileSync(host.privateKeyPath, "utf8");
  }, 600_000);
  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    stack?.remove();
    await downHosts([HOST]);
  }, 600_000);

  it("the project's own program: the SSH key set as a secret stays out of state, output, argv and logs", async () => {
    const config = rawStackFor([host], { sandbox: "containerd", kubernetes: false });
    const hosts = (config.hosts as Record<string, unknown>[]).map((h) => ({ ...h, sshKey: { secret: "sshPrivateKey" } }));
    stack = await EngineStack.open("secrets", { ...config, hosts }, { sshPrivateKey: keyText });
    const sampling = sampleProcesses(host.index, processLists);
    const result = await stack.up();
    sampling.stop();
    expect(result.summary.result).toBe("succeeded");
    const keyBody = keyText.split("\n").filter((l) => l && !l.startsWith("-----"))[1]!;
    expect(keyBody.length).toBeGreaterThan(40);
    await expectNowhere(stack, host, processLists, keyBody);
    expect(readFileSync(`${stack.dir}/Pulumi.secrets.yaml`, "utf8")).not.toContain(keyBody);
  }, 900_000);

  it("a token, a kubeconfig and MinIO credentials in step scripts and outputs stay secret everywhere", async () => {
    const connection = { host: host.address, port: host.port, user: host.user, privateKey: pulumi.secret(keyText), hostKey: host.hostKey };
    const canaryStack = await EngineStack.open("canaries", {}, {}, async () => {
      const token = new BootstrapToken("token");
      // The script holds every canary; it sleeps so the process list is sampled while it runs.
      const script = pulumi.secret(
        [
          "#!/usr/bin/env bash",
          "set -euo pipefail",
          `token=${CANARIES.token}`,
          `printf '%s\\n' 'client-key: ${CANARIES.kubeconfig}' >/dev/null`,
          `export MINIO_SECRET=${CANARIES.minioSecretKey}`,
          "sleep 4",
          `echo "kubeconfig=${CANARIES.kubeconfig}"`,
        ].join("\n"),
      );
      const step = new HostCommand("canary-step", { connection, hostName: host.name, create: script, delete: "true", secretStdout: true });
      return { stdout: step.stdout, token: token.token };
    });
    try {
      const lists: string[] = [];
      const sampling = sampleProcesses(host.index, lists);
      const result = await canaryStack.up();
      sampling.stop();
      expect(result.outputs.stdout!.secret).toBe(true);
      expect(result.outputs.token!.secret).toBe(true);
      expect(String(result.outputs.stdout!.value)).toContain(CANARIES.kubeconfig);
      const token = String(result.outputs.token!.value);
      expect(token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      expect(lists.length).toBeGreaterThan(2);
      for (const canary of [...Object.values(CANARIES), token]) await expectNowhere(canaryStack, host, lists, canary);
    } finally {
      await canaryStack.destroy().catch(() => undefined);
      canaryStack.remove();
    }
  }, 600_000);
});

/**
 * Samples every process's command line on the host about twice a second until stopped, without
 * blocking this process (the engine talks to the program in it meanwhile).
 */
function sampleProcesses(index: number, into: string[]): { stop(): void } {
  let running = true;
  void (async () => {
    while (running) {
      const sample = await execFileAsync("bash", [SCRIPT, "exec", String(index), "ps", "-eo", "args", "--no-headers"], { encoding: "utf8" }).catch(
        () => undefined,
      );
      if (sample) into.push(sample.stdout);
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return { stop: () => (running = false) };
}

async function expectNowhere(stack: EngineStack, host: TestHost, processLists: readonly string[], secret: string): Promise<void> {
  expect(await stack.stateText(), "state").not.toContain(secret);
  expect(stack.output, "engine output").not.toContain(secret);
  for (const list of processLists) expect(list, "host process list").not.toContain(secret);
  const logs = hostExec(host.index, "journalctl --no-pager -o cat 2>/dev/null; cat /var/log/auth.log /var/log/syslog 2>/dev/null || true");
  expect(logs, "host logs").not.toContain(secret);
}
