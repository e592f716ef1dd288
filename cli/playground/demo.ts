// The playground's first experiment, run by `npm run up` after `pulumi up`: vHive's helloworld
// function on the first host, started cold (a boot), stopped (its snapshot is taken), started
// again (restored from the snapshot), each answer and each start's stages printed.
import * as grpc from "@grpc/grpc-js";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { ensureHelloworldImage, HELLOWORLD_REF } from "#components/playground/images/helloworld.js";
import { copyToRemote, runRemote, type SshTarget } from "#components/provider/ssh.js";
import { remoteRunnerCommand } from "#components/provider/runner.js";
import { q } from "#components/scripts/shell.js";

export interface DemoHost {
  readonly name: string;
  readonly endpoint: string;
  readonly ssh: SshTarget;
  readonly installDir: string;
}

/** An instance as the node runtime's API returns it (field names as in its proto). */
interface Instance {
  instance_id: string;
  start_kind: string;
  sandbox: string;
  cold_start_us: Record<string, number>;
}

const REVISION = "helloworld-00001";

/** Loads the helloworld image into the host's node runtime store (no registry is needed). */
export async function loadHelloworld(host: Pick<DemoHost, "name" | "ssh" | "installDir">): Promise<void> {
  const image = await ensureHelloworldImage();
  const remote = `/tmp/vhive-helloworld-${process.pid}.tar`;
  await copyToRemote(host.ssh, image.tarball, remote);
  const load = await runRemote(host.ssh, remoteRunnerCommand(), {
    stdin: `set -e\ntrap 'rm -f ${q(remote)}' EXIT\nnode ${q(`${host.installDir}/node-runtime/cli/main.js`)} image load ${q(remote)} --ref ${q(HELLOWORLD_REF)}\n`,
    timeoutS: 600,
  });
  if (load.code !== 0) throw new Error(`loading helloworld on ${host.name} failed: ${load.stderr.trim()}`);
}

function stageTable(first: Instance, second: Instance): string {
  const stages = [...new Set([...Object.keys(first.cold_start_us), ...Object.keys(second.cold_start_us)])];
  const ms = (us: number | undefined) => (us === undefined ? "-" : (us / 1000).toFixed(1));
  const rows = stages.map((s) => `  ${s.padEnd(24)} ${ms(first.cold_start_us[s]).padStart(10)} ${ms(second.cold_start_us[s]).padStart(10)}`);
  // Headed by how each instance really started.
  return [`  ${"stage (ms)".padEnd(24)} ${first.start_kind.padStart(10)} ${second.start_kind.padStart(10)}`, ...rows].join("\n");
}

export async function runDemo(host: DemoHost, log: (line: string) => void = console.log): Promise<{ boot: Instance; restore: Instance }> {
  log(`helloworld on ${host.name} (${host.endpoint}): loading the image`);
  await loadHelloworld(host);
  const api = new ApiClient(host.endpoint, 300_000);
  try {
    const start = async (): Promise<Instance> => {
      const instance = await api.runtimeCall<Instance>("StartInstance", { image: HELLOWORLD_REF, revision: REVISION });
      const reply = await api.runtimeCall<{ message: string }>("Invoke", { instance_id: instance.instance_id, name: "playground" });
      log(`  ${instance.start_kind}: ${reply.message}`);
      // The instance's record with the first invocation's stages.
      return api.runtimeCall<Instance>("GetInstance", { instance_id: instance.instance_id });
    };
    // A cold boot first, whatever an earlier run left: the revision's snapshot goes.
    await api.runtimeCall("DeleteSnapshot", { revision: REVISION }).catch((error: { code?: number }) => {
      if (error.code !== grpc.status.NOT_FOUND) throw error;
    });
    const boot = await start();
    const stop = await api.runtimeCall<{ snapshot: string; snapshot_error?: string }>("StopInstance", { instance_id: boot.instance_id });
    log(`  snapshot at teardown: ${stop.snapshot}${stop.snapshot_error ? ` (${stop.snapshot_error})` : ""}`);
    const restore = await start();
    await api.runtimeCall("StopInstance", { instance_id: restore.instance_id });
    log(`cold-start breakdown, ${boot.sandbox} (vHive's stage names):\n${stageTable(boot, restore)}`);
    return { boot, restore };
  } finally {
    api.close();
  }
}
