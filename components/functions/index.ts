export type { FunctionSpec, FunctionsArgs } from "./args.js";
export { Functions } from "./functions.js";
export { FUNCTION_CATALOG, instanceNames, resolveFunction } from "./catalog.js";
