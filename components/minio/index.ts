export type { MinioArgs } from "./args.js";
export { Minio } from "./minio.js";
export { minioDataDirStep } from "../host-steps/index.js";
