/** The parts of an OCI image config that decide how a function starts. */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  exposedPorts: number[];
}

export interface StoredImage {
  /** Manifest digest, sha256:… */
  digest: string;
  /** References (name:tag) that resolve to this image. */
  references: string[];
  config: ImageConfig;
  /** Layer digests, base first. */
  layers: string[];
}

/**
 * Pulls, loads and unpacks OCI images; everything is cached by digest under one root.
 * Sandbox drivers ask it for an unpacked rootfs (gVisor, containerd) or an ext4 image (Firecracker).
 * Failures are `ImageError`s (./errors.ts) whose `code` is the gRPC status to answer with.
 * Implementation: `LocalImageStore` in ./image-store.ts.
 */
export interface ImageStore {
  /** Resolves a reference or digest to a stored image, pulling from its registry if needed. */
  get(ref: string): Promise<StoredImage>;
  loadOciLayout(dir: string, ref?: string): Promise<StoredImage>;
  loadTarball(path: string, ref?: string): Promise<StoredImage>;
  /** Read-only unpacked root filesystem (layers applied in order, whiteouts honoured). */
  rootfs(digest: string): Promise<string>;
  /** ext4 image of the root filesystem, built once per digest. */
  ext4(digest: string): Promise<string>;
}
