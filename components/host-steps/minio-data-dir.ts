// MinIO's data directory on its node: created by a host step before the PersistentVolume that
// points at it, and removed on destroy unless `minio.retainData` keeps the objects.
import { installPathProblem } from "../config/paths.js";
import { hostScriptStep } from "./script-step.js";
import { lines, q } from "../scripts/shell.js";
import type { Step } from "../scripts/step.js";

/** MinIO runs as root in its container; nobody else on the node needs to read the objects. */
const DATA_DIR_MODE = "0700";

export function minioDataDirStep(hostPath: string, retainData: boolean): Step {
  // Checked here as well as in the config schema: this path is removed as root on destroy.
  const problem = installPathProblem(hostPath);
  if (problem !== undefined) throw new Error(`minio.path: ${problem}`);
  return hostScriptStep(
    "minio-data",
    lines(`if ! as_root test -d ${q(hostPath)}; then`, `  as_root install -d -m ${DATA_DIR_MODE} ${q(hostPath)}`, `  changed=1`, `fi`),
    retainData
      ? `# minio.retainData is true: the data directory ${hostPath} is kept.`
      : lines(`# The objects go with the stack (set minio.retainData: true to keep them).`, `remove_path ${q(hostPath)}`),
  );
}
