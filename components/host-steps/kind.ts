// The kind dev environment's local steps: Docker check, pinned kind, the vHive dev container
// started the way vHive's kind fork starts its node (kind itself does not run kubeadm there),
// and a wrapper that runs any host step inside that container.
import type { StackConfig } from "../config/schema.js";
import { stepScript } from "../scripts/helpers.js";
import { cachedArtifactPath, downloadArtifact } from "./download.js";
import { lines, q } from "../scripts/shell.js";
import type { Step } from "../scripts/step.js";

/** kubeadm needs the container's IP, which only exists once the container runs. */
export const NODE_IP_PLACEHOLDER = "__VHIVE_NODE_IP__";

function localStep(name: string, create: string, del: string): Step {
  return { name, create: stepScript(name, create, "local"), delete: stepScript(name, del, "local", "delete") };
}

export function containerName(config: StackConfig): string {
  return `${config.kind.clusterName}-control-plane`;
}

export function kindBinary(config: StackConfig): string {
  return cachedArtifactPath(config, "kind");
}

export function dockerCheckStep(): Step {
  return localStep(
    "docker",
    lines(
      `command -v docker >/dev/null || fail "docker is not installed on $(hostname): the kind dev environment runs in Docker"`,
      `docker info >/dev/null 2>&1 || fail "docker info fails for user $(id -un): start Docker or add the user to the docker group"`,
    ),
    `: # nothing to undo: Docker was there before us`,
  );
}

export function kindInstallStep(config: StackConfig): Step {
  return localStep(
    "kind",
    lines(
      downloadArtifact(config, "kind", kindBinary(config)),
      `if [ ! -x "${kindBinary(config)}" ]; then chmod 0755 "${kindBinary(config)}"; changed=1; fi`,
      `"${kindBinary(config)}" version >/dev/null || fail "the kind binary does not run"`,
    ),
    `remove_path "${kindBinary(config)}"`,
  );
}

export function devContainerStep(config: StackConfig): Step {
  const name = containerName(config);
  const cluster = config.kind.clusterName;
  return localStep(
    "dev-container",
    lines(
      `name=${q(name)}`,
      `if docker inspect "$name" >/dev/null 2>&1; then`,
      `  if [ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ]; then docker start "$name" >/dev/null; changed=1; fi`,
      `else`,
      `  # As vHive's kind fork runs its node: privileged, host IPC, the host's /dev and udev socket.`,
      `  args=(--detach --name "$name" --hostname "$name" --privileged --ipc=host`,
      `    --security-opt seccomp=unconfined --security-opt apparmor=unconfined`,
      `    --tmpfs /tmp --tmpfs /run --volume /var --volume /dev:/dev --volume /lib/modules:/lib/modules:ro`,
      `    --label ${q(`io.x-k8s.kind.cluster=${cluster}`)} --label io.x-k8s.kind.role=control-plane`,
      `    --publish ${q(`127.0.0.1:${config.kind.apiServerPort}:6443`)})`,
      `  if [ -S /run/udev/control ]; then args+=(--volume /run/udev/control:/run/udev/control); fi`,
      `  docker run "\${args[@]}" ${q(config.kind.devImage)} >/dev/null`,
      `  changed=1`,
      `fi`,
      `wait_for 60 "systemd in the dev container" docker exec "$name" test -d /run/systemd/system`,
    ),
    lines(
      `name=${q(name)}`,
      `# kind finds the node by its labels, so it deletes the cluster like one it created.`,
      `if [ -x "${kindBinary(config)}" ] && "${kindBinary(config)}" get clusters 2>/dev/null | grep -qx ${q(cluster)}; then`,
      `  "${kindBinary(config)}" delete cluster --name ${q(cluster)} >/dev/null 2>&1 || true`,
      `  changed=1`,
      `fi`,
      `if docker inspect "$name" >/dev/null 2>&1; then docker rm -f "$name" >/dev/null; changed=1; fi`,
    ),
  );
}

/** Runs a host step's script inside the dev container (its stdout is the step's stdout). */
export function inContainer(config: StackConfig, hostStep: Step): Step {
  const wrap = (script: string) =>
    lines(
      `#!/usr/bin/env bash`,
      `# vHive provisioner step "${hostStep.name}", run inside the kind dev container.`,
      `set -euo pipefail`,
      `name=${q(containerName(config))}`,
      `if ! docker inspect "$name" >/dev/null 2>&1; then echo "vhive-step ${hostStep.name}: unchanged"; exit 0; fi`,
      `node_ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$name" | cut -d' ' -f1)"`,
      `script="$(cat <<'VHIVE_IN_CONTAINER'`,
      script.trimEnd(),
      `VHIVE_IN_CONTAINER`,
      `)"`,
      `# As an argument, not on stdin, so nothing inside (apt, dpkg) can read the script itself.`,
      `docker exec "$name" bash -c "\${script//${NODE_IP_PLACEHOLDER}/$node_ip}"`,
      ``,
    );
  return { name: hostStep.name, create: wrap(hostStep.create), delete: wrap(hostStep.delete) };
}
