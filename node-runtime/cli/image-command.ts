import { stat } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_DATA_DIR } from "../config/runtime-config.js";
import { LocalImageStore } from "../images/image-store.js";
import { CliError } from "./cli-error.js";
import { withProgress } from "./progress.js";

/**
 * Works on the node's image store directly (a directory shared with `serve`, default
 * /var/lib/vhive-node/images), so images that no registry serves can be made available to it.
 */
export async function imageCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ref: { type: "string" }, "image-dir": { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
  });
  const store = new LocalImageStore({ root: values["image-dir"] ?? path.join(path.dirname(DEFAULT_DATA_DIR), "images") });
  const [sub, source] = positionals;
  if (sub === "load" && source && positionals.length === 2) {
    const st = await stat(source).catch(() => undefined);
    if (!st) throw new CliError(`image load: ${source} does not exist`);
    const img = await withProgress(`loading ${source}`, () =>
      st.isDirectory() ? store.loadOciLayout(source, values.ref) : store.loadTarball(source, values.ref),
    );
    process.stdout.write(values.json ? JSON.stringify(img, null, 2) + "\n" : `${img.digest} ${img.references.join(" ")}\n`);
  } else if (sub === "ls" && positionals.length === 1) {
    const images = await store.list();
    process.stdout.write(values.json ? JSON.stringify(images, null, 2) + "\n" : images.map((i) => `${i.digest} ${i.references.join(" ")}`).join("\n") + "\n");
  } else {
    throw new CliError("image: expected `image load PATH [--ref REF]` or `image ls`", 2);
  }
}
