// Test double of the ImageStore (stands in for the image store in node-runtime/images/ while the
// orchestrator is tested against the process driver double): knows a fixed set of references.
import type { ImageConfig, ImageStore, StoredImage } from "#node-runtime/images/types.js";

const CONFIG: ImageConfig = { entrypoint: ["/fn"], cmd: [], env: [], workingDir: "/", user: "0", exposedPorts: [50051] };

export class ImageStoreDouble implements ImageStore {
  private readonly images = new Map<string, StoredImage>();

  add(ref: string, digest: string): StoredImage {
    const img: StoredImage = { digest, references: [ref], config: CONFIG, layers: [] };
    this.images.set(ref, img);
    this.images.set(digest, img);
    return img;
  }

  async get(ref: string): Promise<StoredImage> {
    const img = this.images.get(ref);
    if (!img) throw new Error(`image ${ref} is not in the store and no registry is configured`);
    return img;
  }
  async loadOciLayout(): Promise<StoredImage> {
    throw new Error("not used by the orchestrator");
  }
  async loadTarball(): Promise<StoredImage> {
    throw new Error("not used by the orchestrator");
  }
  async rootfs(): Promise<string> {
    throw new Error("not used by the orchestrator");
  }
  async ext4(): Promise<string> {
    throw new Error("not used by the orchestrator");
  }
}
