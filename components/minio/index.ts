export type { MinioArgs } from "./args.js";
export { Minio } from "./minio.js";
