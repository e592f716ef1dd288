export type { MinioArgs } from "./args.js";
