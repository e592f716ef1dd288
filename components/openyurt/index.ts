export type { OpenYurtArgs, OpenYurtNodeArgs } from "./args.js";
