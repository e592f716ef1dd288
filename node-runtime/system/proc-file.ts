// Reading a /proc file whole. procfs reports a size of 0, and fs.promises.readFile on Node 18 (the
// Node of Debian bookworm, which runs the runtime on provisioned hosts) then returns only its first
// read, about a page: a long /proc/self/mountinfo came back cut, and a mounted sandbox root looked
// unmounted. This reads until the kernel says the end.
import { open } from "node:fs/promises";

const CHUNK = 64 * 1024;

export async function readProcFile(path: string, chunkSize = CHUNK): Promise<string> {
  const file = await open(path, "r");
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buffer = Buffer.alloc(chunkSize);
      const { bytesRead } = await file.read(buffer, 0, chunkSize, null);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    await file.close();
  }
}
