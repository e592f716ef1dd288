/** What went wrong, named as the gRPC status the API should answer with. */
export type ImageErrorCode =
  | "NOT_FOUND" // image not in the store / not in the registry
  | "INVALID_ARGUMENT" // malformed reference, digest, layout or tarball
  | "DATA_LOSS" // content does not match its digest
  | "UNAVAILABLE" // registry or token service unreachable
  | "PERMISSION_DENIED"; // registry refused the (missing or configured) credentials

/** An image store failure with a status code the gRPC front end can pass on. */
export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ImageError";
  }
}
