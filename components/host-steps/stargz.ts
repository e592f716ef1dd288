// The stargz snapshotter (stack setting `estargz`): lazily pulled eStargz images. Before
// containerd, whose config names it.
import { lines, writeFile } from "../scripts/shell.js";
import { STARGZ_UNIT } from "../scripts/units.js";
import { cachedArtifactPath, downloadArtifact } from "./download.js";
import { hostStep } from "./host-step.js";

export const stargzStep = hostStep({
  name: "stargz",
  after: ["packages"],
  when: ({ config }) => config.estargz,
  build: ({ config }) => {
    const archive = `${cachedArtifactPath(config, "stargz")}.tar.gz`;
    return {
      create: lines(
        downloadArtifact(config, "stargz", archive),
        `work="$(mktemp -d)"`,
        `trap 'rm -rf "$work"' EXIT`,
        `tar -xzf "${archive}" -C "$work"`,
        `for bin in containerd-stargz-grpc ctr-remote; do install_binary "$work/$bin" "/usr/local/bin/$bin"; done`,
        `before=$changed; changed=0`,
        writeFile("/etc/containerd-stargz-grpc/config.toml", "0644", "# stargz snapshotter defaults (vHive provisioner)"),
        writeFile("/etc/systemd/system/containerd-stargz-grpc.service", "0644", STARGZ_UNIT),
        `restart=$changed; [ "$before" -eq 1 ] && changed=1`,
        `enable_unit containerd-stargz-grpc.service "$restart"`,
      ),
      delete: lines(
        `disable_unit containerd-stargz-grpc.service`,
        `remove_path /etc/systemd/system/containerd-stargz-grpc.service /etc/containerd-stargz-grpc /var/lib/containerd-stargz-grpc "${archive}"`,
        `remove_recorded_files stargz`,
        `if has_systemd; then as_root systemctl daemon-reload; fi`,
      ),
    };
  },
});
