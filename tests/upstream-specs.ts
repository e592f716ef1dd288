// Where tests find the upstream specifications they check against (Firecracker's OpenAPI files, the
// CRI proto). They are upstream's files, not ours, so the repository does not carry them: one
// setting, VHIVE_SPECS_DIR, names their directory, by default ../shared/specs beside the repository
// (the layout CI has). Tests that need one declare it (tests/requirements.ts) and skip without it.
import { isAbsolute, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { FirecrackerApiVersion } from "../node-runtime/sandbox/firecracker/api-types.js";

export const SPECS_DIR_SETTING = "VHIVE_SPECS_DIR";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The CRI API (kubernetes/cri-api pkg/apis/runtime/v1/api.proto, v0.35.0 = Kubernetes 1.35). */
export const CRI_SPEC = "cri/api-v0.35.0.proto";

/** Firecracker's swagger file (src/firecracker/swagger/firecracker.yaml) at a release tag. */
export function firecrackerSpec(version: FirecrackerApiVersion): string {
  return `firecracker/firecracker-v${version}.yaml`;
}

/** The directory of upstream specs: VHIVE_SPECS_DIR (absolute), else <repo>/../shared/specs. */
export function upstreamSpecsDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env[SPECS_DIR_SETTING];
  if (configured === undefined) return resolve(REPO, "../shared/specs");
  if (!isAbsolute(configured)) throw new Error(`${SPECS_DIR_SETTING} must be an absolute path (got ${JSON.stringify(configured)})`);
  return normalize(configured);
}

/** Absolute path of one spec, named relative to the specs directory (e.g. CRI_SPEC). */
export function upstreamSpecPath(spec: string, env: NodeJS.ProcessEnv = process.env): string {
  if (isAbsolute(spec) || normalize(spec).split("/").includes("..")) throw new Error(`spec ${JSON.stringify(spec)} must be a path inside ${SPECS_DIR_SETTING}`);
  return resolve(upstreamSpecsDir(env), spec);
}
