import path from "node:path";
import type { Logger } from "pino";
import type { RuntimeConfig } from "../config/runtime-config.js";
import { LocalImageStore } from "../images/image-store.js";
import type { ImageStore } from "../images/types.js";
import type { SnapshotStore } from "../snapshots/snapshot-store.js";
import type { Orchestrator } from "./orchestrator.js";
import { StorageBudget } from "./storage-budget.js";

/**
 * The served runtime's disk budget (config.diskBudget) over where it stores things: its data dir
 * (snapshots, instance state, Firecracker's prepared disks and VM directories), the image store,
 * and the jailer's chroot base when VMs are jailed. Caches: prepared guest disks, ext4 images,
 * unpacked root filesystems.
 */
export function runtimeStorageBudget(opts: {
  config: RuntimeConfig;
  images: ImageStore;
  snapshots: SnapshotStore;
  orchestrator: Orchestrator;
  logger: Logger;
}): StorageBudget {
  const { config, images } = opts;
  const imageRoot = images instanceof LocalImageStore ? images.root : undefined;
  return new StorageBudget({
    budgetBytes: config.diskBudget,
    roots: [config.dataDir, ...(imageRoot ? [imageRoot] : []), ...(config.firecrackerJailer ? [config.firecrackerJailer.chrootBaseDir] : [])],
    caches: [
      { kind: "prepared-image", dir: path.join(config.dataDir, "firecracker", "prepared-images") },
      ...(imageRoot
        ? [
            { kind: "ext4", dir: path.join(imageRoot, "ext4"), digestHexOf: (name: string) => name.replace(/\.ext4$/, "") },
            { kind: "rootfs", dir: path.join(imageRoot, "rootfs"), digestHexOf: (name: string) => name },
          ]
        : []),
    ],
    snapshots: opts.snapshots,
    imagesInUse: () =>
      opts.orchestrator
        .list()
        .filter((i) => i.state !== "exited" && i.imageDigest !== "")
        .map((i) => i.imageDigest.replace(/^sha256:/, "")),
    onCollected: (e) => opts.logger.info(e, "disk budget: cache entry collected"),
    onEvicted: (revision, bytes) => opts.logger.info({ revision, bytes }, "disk budget: snapshot evicted"),
  });
}
