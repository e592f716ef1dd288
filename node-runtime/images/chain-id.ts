import { createHash } from "node:crypto";

/**
 * The OCI chain ID of a layer stack (what containerd names unpacked snapshots by):
 * the first layer's diff_id, then sha256("<parent chain id> <diff_id>") for each next layer.
 */
export function chainId(diffIds: readonly string[]): string {
  if (diffIds.length === 0) throw new Error("an image without layers has no chain ID");
  let chain = diffIds[0]!;
  for (const diffId of diffIds.slice(1)) chain = `sha256:${createHash("sha256").update(`${chain} ${diffId}`).digest("hex")}`;
  return chain;
}
