// Installs the node runtime bundle on a worker and runs it as a systemd service with the
// chosen sandbox and snapshot mode, then waits for its health endpoint (and, for firecracker,
// its CRI socket, which kubelet is pointed at).
import type { StackConfig } from "../config/schema.js";
import { cachedArtifactPath, downloadArtifact } from "./download.js";
import { hostScriptStep } from "./script-step.js";
import { lines, q, writeFile } from "../scripts/shell.js";
import type { Step } from "../scripts/step.js";
import { nodeRuntimeUnit, NODE_RUNTIME_STATE_DIRS } from "../scripts/units.js";

export interface NodeRuntimeStepInput {
  /** Where the bundle tarball was copied on the host. */
  readonly bundlePath: string;
  /** sha256 of the bundle; an install is redone only when it changes. */
  readonly bundleSha256: string;
  readonly criSocket: string;
  /** Serve the gRPC API on the network (node-runtime-only hosts). */
  readonly apiPort?: number;
}

const NODE_DIR = "/opt/vhive-node";
export const NODE_RUNTIME_UNIT = "vhive-node-runtime.service";
/** What /run/netns was before the node runtime ran (kept with its state, removed on destroy). */
const NETNS_BEFORE = `${NODE_RUNTIME_STATE_DIRS[0]}/run-netns-before`;

export function nodeRuntimeStep(config: StackConfig, input: NodeRuntimeStepInput): Step {
  const dir = config.nodeRuntime.installDir;
  const debian = config.packages.source === "debian";
  const nodeBinary = debian ? "/usr/bin/node" : `${NODE_DIR}/bin/node`;
  const nodeArchive = `${cachedArtifactPath(config, "node")}.tar.gz`;
  const socketPath = input.criSocket.replace(/^unix:\/\//, "");
  const installNode = debian
    ? `apt_install node-runtime nodejs`
    : lines(
        downloadArtifact(config, "node", nodeArchive),
        `if [ "$(${NODE_DIR}/bin/node --version 2>/dev/null || true)" != ${q(`v${config.versions.node}`)} ]; then`,
        `  remove_path ${NODE_DIR}`,
        `  as_root install -d ${NODE_DIR}`,
        `  as_root tar -xzf "${nodeArchive}" -C ${NODE_DIR} --strip-components=1`,
        `  changed=1`,
        `fi`,
      );
  return hostScriptStep(
    "node-runtime",
    lines(
      installNode,
      `before=$changed; changed=0`,
      `marker=${q(`${dir}/.bundle-${input.bundleSha256}`)}`,
      `if ! as_root test -f "$marker"; then`,
      `  as_root test -f ${q(input.bundlePath)} || fail "the node runtime bundle ${input.bundlePath} was not copied to $(hostname)"`,
      `  [ "$(as_root sha256sum ${q(input.bundlePath)} | cut -d' ' -f1)" = ${q(input.bundleSha256)} ] || fail "the node runtime bundle on $(hostname) does not match its checksum"`,
      `  remove_path ${q(dir)}`,
      `  as_root install -d ${q(dir)}`,
      `  as_root tar -xzf ${q(input.bundlePath)} -C ${q(dir)}`,
      `  as_root touch "$marker"`,
      `  changed=1`,
      `fi`,
      // REAP's page-fault handler is a native addon: built here, for this host's node.
      config.sandbox === "firecracker" &&
        config.snapshots === "reap" &&
        `build_uffd_addon ${q(`${dir}/node-runtime/memory/native`)} ${debian ? "/usr/include/node" : `${NODE_DIR}/include/node`}`,
      // gVisor's netns sandboxes and Firecracker's network slots make namespaces under /run/netns.
      `record_netns_dir ${NETNS_BEFORE}`,
      writeFile(
        `/etc/systemd/system/${NODE_RUNTIME_UNIT}`,
        "0644",
        nodeRuntimeUnit({
          installDir: dir,
          nodeBinary,
          sandbox: config.sandbox,
          snapshots: config.snapshots,
          healthPort: config.nodeRuntime.healthPort,
          ...(config.sandbox === "firecracker" ? { criSocket: input.criSocket } : {}),
          // A namespace and address per gVisor sandbox, as vHive's; Debian's runsc (20221219)
          // cannot run netstack in a namespace it did not create, the pinned release can.
          ...(config.sandbox === "gvisor" && !debian ? { gvisorNetwork: "netns" as const } : {}),
          ...(input.apiPort ? { apiPort: input.apiPort } : {}),
        }),
      ),
      `restart=$changed; [ "$before" -eq 1 ] && changed=1`,
      `enable_unit ${NODE_RUNTIME_UNIT} "$restart"`,
      `wait_for 60 "the node runtime's health check on $(hostname)" curl -fsS ${q(`http://127.0.0.1:${config.nodeRuntime.healthPort}/healthz`)}`,
      config.sandbox === "firecracker" && `wait_for 30 "the node runtime's CRI socket" as_root test -S ${q(socketPath)}`,
    ),
    lines(
      `disable_unit ${NODE_RUNTIME_UNIT}`,
      `remove_path /etc/systemd/system/${NODE_RUNTIME_UNIT} ${q(dir)} ${q(input.bundlePath)}`,
      `# The runtime's data (snapshots, working sets) and its API socket directory, once the`,
      `# sandboxes it left running are stopped and their mounts released.`,
      `release_tree ${NODE_RUNTIME_STATE_DIRS.join(" ")}`,
      `release_netns_dir ${NETNS_BEFORE}`,
      `remove_path ${NODE_RUNTIME_STATE_DIRS.join(" ")}`,
      debian ? `apt_remove_recorded node-runtime ${config.packages.keepOnDestroy ? 1 : 0}` : `remove_path ${NODE_DIR} "${nodeArchive}"`,
      config.sandbox === "firecracker" && `remove_path ${q(socketPath.replace(/\/[^/]+$/, ""))}`,
      `if has_systemd; then as_root systemctl daemon-reload; fi`,
    ),
  );
}
