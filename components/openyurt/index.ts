export type { OpenYurtArgs, OpenYurtNodeArgs } from "./args.js";
export { OpenYurt, DEFAULT_OPENYURT_VERSION, mergeEndpointsJson, type YurthubHostStep } from "./openyurt.js";
export { yurthubJoinScript, yurthubLeaveScript, type YurthubJoinOptions } from "../host-steps/index.js";
