export type { FunctionSpec, FunctionsArgs } from "./args.js";
