// The playground demo driven by a stack's outputs: the first host's node runtime endpoint and SSH
// details (the key file hosts.sh made; its host key pinned).
import { readFileSync } from "node:fs";
import type { OutputMap } from "@pulumi/pulumi/automation/index.js";
import type { HostLine } from "#components/playground/playground-hosts.js";
import { runDemo } from "./demo.js";

export async function playgroundDemo(outputs: OutputMap): Promise<void> {
  const hosts = outputs.playgroundHosts?.value as HostLine[] | undefined;
  const endpoints = outputs.nodeRuntimeEndpoints?.value as Record<string, string> | undefined;
  if (!hosts?.length || !endpoints) throw new Error("this stack has no playground hosts: the demo runs on the playground stack after `up`");
  const host = hosts[0]!;
  const installDir = String(outputs.nodeRuntimeInstallDir?.value ?? "");
  if (!installDir) throw new Error("the stack has no nodeRuntimeInstallDir output: run `npm run pulumi -- up` first");
  await runDemo({
    name: host.name,
    endpoint: endpoints[host.name]!,
    installDir,
    ssh: { host: host.address, port: host.port, user: host.user, privateKey: readFileSync(host.privateKeyPath, "utf8"), hostKey: host.hostKey },
  });
}
