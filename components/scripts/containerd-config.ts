// containerd's configuration, rendered whole from the stack config: the runtimes the sandbox
// needs and, with eStargz, the stargz snapshotter as a proxy plugin. containerd 2.x reads config
// version 3; Debian bookworm's containerd 1.6 reads version 2, so both shapes are produced.

export interface ContainerdConfigInput {
  /** 3 for containerd 2.x (release files), 2 for containerd 1.6 (Debian bookworm). */
  readonly configVersion: 2 | 3;
  readonly sandbox: "firecracker" | "gvisor" | "containerd";
  readonly estargz: boolean;
  readonly cniBinDir: string;
  /** Path of runsc when gVisor runs through the runc shim (no runsc shim available). */
  readonly runscViaRuncShim?: string;
  readonly pauseImage: string;
}

export const STARGZ_SOCKET = "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock";

export function containerdConfig(input: ContainerdConfigInput): string {
  const out: string[] = [`# Written by the vHive provisioner; \`pulumi destroy\` restores the previous file.`];
  const gvisor = input.sandbox === "gvisor";
  const runscRuntime = (prefix: string): string[] =>
    input.runscViaRuncShim
      ? [
          `[${prefix}.runtimes.runsc]`,
          `  runtime_type = "io.containerd.runc.v2"`,
          `[${prefix}.runtimes.runsc.options]`,
          `  BinaryName = "${input.runscViaRuncShim}"`,
        ]
      : [`[${prefix}.runtimes.runsc]`, `  runtime_type = "io.containerd.runsc.v1"`];

  if (input.configVersion === 3) {
    const runtime = `plugins."io.containerd.cri.v1.runtime"`;
    const images = `plugins."io.containerd.cri.v1.images"`;
    out.push(
      "version = 3",
      "",
      `[${runtime}]`,
      `  enable_unprivileged_ports = true`,
      `[${runtime}.containerd]`,
      `  default_runtime_name = "runc"`,
      `[${runtime}.containerd.runtimes.runc]`,
      `  runtime_type = "io.containerd.runc.v2"`,
      `[${runtime}.containerd.runtimes.runc.options]`,
      `  SystemdCgroup = true`,
      ...(gvisor ? runscRuntime(`${runtime}.containerd`) : []),
      `[${runtime}.cni]`,
      `  bin_dirs = ["${input.cniBinDir}"]`,
      `  conf_dir = "/etc/cni/net.d"`,
      "",
      `[${images}]`,
      ...(input.estargz ? [`  snapshotter = "stargz"`, `  disable_snapshot_annotations = false`] : []),
      `[${images}.pinned_images]`,
      `  sandbox = "${input.pauseImage}"`,
    );
  } else {
    const cri = `plugins."io.containerd.grpc.v1.cri"`;
    out.push(
      "version = 2",
      "",
      `[${cri}]`,
      `  sandbox_image = "${input.pauseImage}"`,
      `[${cri}.containerd]`,
      `  default_runtime_name = "runc"`,
      ...(input.estargz ? [`  snapshotter = "stargz"`, `  disable_snapshot_annotations = false`] : []),
      `[${cri}.containerd.runtimes.runc]`,
      `  runtime_type = "io.containerd.runc.v2"`,
      `[${cri}.containerd.runtimes.runc.options]`,
      `  SystemdCgroup = true`,
      ...(gvisor ? runscRuntime(`${cri}.containerd`) : []),
      `[${cri}.cni]`,
      `  bin_dir = "${input.cniBinDir}"`,
      `  conf_dir = "/etc/cni/net.d"`,
    );
  }
  if (input.estargz) {
    out.push("", `[proxy_plugins.stargz]`, `  type = "snapshot"`, `  address = "${STARGZ_SOCKET}"`);
  }
  return `${out.join("\n")}\n`;
}
