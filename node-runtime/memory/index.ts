// REAP memory backend for Firecracker restores: the userfaultfd handler and working-set files.
export { startUffdHandler } from "./uffd-handler.js";
export type { UffdHandler, UffdHandlerOptions, UffdInstall, UffdMode, UffdReady, UffdStats, UffdFailure, FirstInvocationResult } from "./uffd-handler.js";
export { parseUffdHandshake, UffdHandshakeError, type UffdRegion } from "./handshake.js";
export {
  planReapLoad,
  planWorkingSet,
  workingSetPathFor,
  markWorkingSetStale,
  WORKING_SET_FILE,
  DEFAULT_RERECORD_THRESHOLD,
  type ReapLoadPlan,
} from "./working-set-policy.js";
export { readWorkingSetHeader, readWorkingSetPages, type WorkingSetHeader } from "./working-set-file.js";
