// PlaygroundHosts: the playground's machines as a resource of the stack, so `pulumi up` makes them
// and `pulumi destroy` removes them: systemd-nspawn hosts on a private bridge, each with key-only
// sshd, a host key generated here and pinned, and Debian packages through a local apt proxy
// (components/playground/hosts.sh). Needs root on the machine running Pulumi.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { LocalCommand, type ConnectionArgs } from "../provider/index.js";
import { q } from "../scripts/shell.js";

export const HOSTS_SCRIPT = fileURLToPath(new URL("./hosts.sh", import.meta.url));
/** The apt proxy the hosts reach Debian through (hosts.sh binds it to the bridge). */
export const PLAYGROUND_APT_PROXY = "http://10.231.0.1:3242";

export interface PlaygroundHost {
  readonly name: string;
  /** What hosts.sh reported: address, SSH user and port, the key file and the pinned host key. */
  readonly info: pulumi.Output<HostLine>;
  readonly address: pulumi.Output<string>;
  readonly connection: pulumi.Output<ConnectionArgs>;
}

/** One host as hosts.sh reports it, one JSON line each. */
export interface HostLine {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly privateKeyPath: string;
  /** "ssh-ed25519 AAAA…": the host key generated for this host, to pin. */
  readonly hostKey: string;
}

/** The host names for a playground of `count` hosts starting at `firstIndex`. */
export function playgroundIndexes(count: number, firstIndex: number): number[] {
  return Array.from({ length: count }, (_, i) => firstIndex + i);
}

export function hostsScript(verb: "up" | "down", indexes: readonly number[]): string {
  return [
    "set -euo pipefail",
    `[ "$(id -u)" -eq 0 ] || { echo "the playground's hosts need root on this machine (systemd-nspawn, network namespaces)" >&2; exit 1; }`,
    `bash ${q(HOSTS_SCRIPT)} ${verb} ${indexes.join(" ")}`,
    "",
  ].join("\n");
}

export class PlaygroundHosts extends pulumi.ComponentResource {
  readonly hosts: PlaygroundHost[];

  constructor(name: string, args: { count: number; firstIndex: number }, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:playground:PlaygroundHosts", name, {}, opts);
    const indexes = playgroundIndexes(args.count, args.firstIndex);
    const machines = new LocalCommand(`${name}-machines`, { create: hostsScript("up", indexes), delete: hostsScript("down", indexes) }, { parent: this });
    const lines = machines.stdout.apply((out) =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as HostLine),
    );
    this.hosts = indexes.map((index) => {
      const name = `vht-${index}`;
      const line = lines.apply((all) => {
        const found = all.find((h) => h.name === name);
        if (!found) throw new Error(`the playground's hosts script did not report ${name}`);
        return found;
      });
      return {
        name,
        info: line,
        address: line.apply((h) => h.address),
        connection: line.apply((h) => ({
          host: h.address,
          port: h.port,
          user: h.user,
          // The key hosts.sh generated for its hosts, read when the hosts exist.
          privateKey: pulumi.secret(readFileSync(h.privateKeyPath, "utf8")),
          hostKey: h.hostKey,
          dialAttempts: 20,
          perDialTimeoutS: 15,
        })),
      };
    });
    this.registerOutputs({});
  }
}
