// A tiny stand-in for the provisioner program (it stands in for components/program's
// buildCluster in the harness's own tests): per host a chain of remote commands whose second
// step consumes the first one's real stdout, one step that would download upstream files (so
// it must not run) and one that depends on it.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface TinyHost {
  readonly name: string;
  readonly address: string;
  readonly user: string;
  readonly privateKey: string;
  readonly hostKey: string;
}

const LOG = "/tmp/vht-harness-order";

function stepScript(name: string, body: string): string {
  return `set -eu\necho "create ${name} $(date +%s%N)" >> ${LOG}\n${body}\necho "vhive-step ${name}: changed"\n`;
}

function deleteScript(name: string): string {
  return `set -eu\necho "delete ${name} $(date +%s%N)" >> ${LOG}\n`;
}

export function tinyProgram(hosts: readonly TinyHost[]): Record<string, pulumi.Output<string>> {
  const outputs: Record<string, pulumi.Output<string>> = {};
  for (const host of hosts) {
    const connection = { host: host.address, user: host.user, privateKey: pulumi.secret(host.privateKey), hostKey: host.hostKey };
    const first = new command.remote.Command(`${host.name}-first`, {
      connection,
      create: stepScript("first", `echo "token-$(hostname)"`),
      delete: deleteScript("first"),
    });
    const second = new command.remote.Command(
      `${host.name}-second`,
      {
        connection,
        // Only resolvable once `first` has really run: its stdout is part of this script.
        create: first.stdout.apply((out) => stepScript("second", `echo "got ${out.split("\n")[0]}"`)),
        delete: deleteScript("second"),
      },
      { dependsOn: [first] },
    );
    const download = new command.remote.Command(
      `${host.name}-download`,
      { connection, create: `fetch_verified https://example.invalid/x sha256:00 /tmp/x\n`, delete: "true" },
      { dependsOn: [second] },
    );
    new command.remote.Command(`${host.name}-after-download`, { connection, create: "true", delete: "true" }, { dependsOn: [download] });
    outputs[host.name] = second.stdout;
  }
  return outputs;
}
