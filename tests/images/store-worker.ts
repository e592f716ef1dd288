// Child process for tests/images/cross-process.integration.test.ts: one store on a shared root, doing what a
// second node-runtime process would do at the same time.
import { withFileLock } from "#node-runtime/images/file-lock.js";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import { appendFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

const [mode, a, b] = process.argv.slice(2);
if (mode === "store" && a && b) {
  const store = new LocalImageStore({ root: a });
  const image = await store.loadTarball(b);
  const rootfs = await store.rootfs(image.digest);
  const ext4 = await store.ext4(image.digest);
  process.stdout.write(JSON.stringify({ digest: image.digest, rootfs, ext4 }));
} else if (mode === "lock" && a && b) {
  await withFileLock(
    a,
    async () => {
      await appendFile(b, `start ${process.pid} ${Date.now()}\n`);
      await sleep(300);
      await appendFile(b, `end ${process.pid} ${Date.now()}\n`);
    },
    { pollMs: 20 },
  );
} else {
  process.stderr.write("usage: store-worker store <root> <tarball> | lock <lockfile> <logfile>\n");
  process.exit(2);
}
