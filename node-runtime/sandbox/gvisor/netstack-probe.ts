import { mkdir, open, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { runCommand } from "#node-runtime/images/run-command.js";
import { RunscError, type RunscCli } from "./runsc-cli.js";

export type NetstackSupport = { supported: true } | { supported: false; reason: string };

export interface NetstackProbeInput {
  /** A runsc CLI with --network=sandbox. */
  cli: RunscCli;
  relayBinary: string;
  /** Scratch directory (removed afterwards). */
  workDir: string;
}

/**
 * Finds out whether runsc can give a sandbox its netstack network here: starts a throwaway
 * container in a throwaway network namespace (named vhgv-probe-<pid>) and sees whether runsc
 * gets past network setup. Debian bookworm's runsc fails that on some kernels (upstream fixed it
 * in release-20240801); the reason it gives is returned.
 */
export async function probeNetstack(input: NetstackProbeInput): Promise<NetstackSupport> {
  const netns = `vhgv-probe-${process.pid}`;
  const id = `vhgv-probe-${process.pid}`;
  const bundle = path.join(input.workDir, "bundle");
  const root = path.join(input.workDir, "root");
  const logPath = path.join(input.workDir, "log");
  await mkdir(bundle, { recursive: true });
  await mkdir(root, { recursive: true });
  // the sandbox inherits runsc's stdio; a file (not a pipe) lets create return while it runs
  const log = await open(logPath, "a");
  let nsCreated = false;
  try {
    await runCommand("ip", ["netns", "add", netns]);
    nsCreated = true;
    await runCommand("ip", ["-n", netns, "link", "set", "lo", "up"]);
    // The relay without arguments prints its usage and exits: enough to see the start succeed.
    const spec = {
      ociVersion: "1.0.2",
      process: { user: { uid: 0, gid: 0 }, args: ["/relay"], cwd: "/", env: ["PATH=/"] },
      root: { path: root, readonly: true },
      mounts: [{ destination: "/relay", type: "bind", source: input.relayBinary, options: ["rbind", "ro"] }],
      linux: { namespaces: [{ type: "pid" }, { type: "mount" }, { type: "network", path: `/var/run/netns/${netns}` }] },
    };
    await writeFile(path.join(bundle, "config.json"), JSON.stringify(spec));
    await input.cli.run(["create", `--bundle=${bundle}`, id], { fd: log.fd, path: logPath });
    await input.cli.run(["start", id]);
    return { supported: true };
  } catch (error) {
    const message = error instanceof RunscError ? error.message : (error as Error).message;
    return { supported: false, reason: message };
  } finally {
    await input.cli.run(["delete", "--force", id]).catch(() => undefined);
    await log.close();
    if (nsCreated) await runCommand("ip", ["netns", "del", netns]).catch(() => undefined);
    await rm(input.workDir, { recursive: true, force: true });
  }
}
