// The provider plugin's TypeScript bundled once by esbuild and reused while its sources are
// unchanged: Pulumi starts the plugin on every operation, and loading it through tsx's loader cost
// about twice the CPU of a prebuilt bundle, which a no-change `pulumi up` on one host pays in full.
// Plain JavaScript because it must run before anything can compile TypeScript.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";

/** First line of a bundle: the sources it was built from, with their sizes and mtimes. */
const STAMP_PREFIX = "// vhive-bundle-inputs: ";

/** @param {string} root @param {readonly string[]} paths */
function stampOf(root, paths) {
  return paths.map((path) => {
    const stat = statSync(join(root, path));
    return [path, stat.size, stat.mtimeMs];
  });
}

/** The stamp a bundle was built with, or undefined when it is missing or not ours. */
function savedStamp(bundlePath) {
  let head;
  try {
    head = readFileSync(bundlePath, "utf8").split("\n", 1)[0] ?? "";
  } catch {
    return undefined;
  }
  if (!head.startsWith(STAMP_PREFIX)) return undefined;
  try {
    return JSON.parse(head.slice(STAMP_PREFIX.length));
  } catch {
    return undefined;
  }
}

/** @param {string} root @param {string} bundlePath */
export function bundleIsFresh(root, bundlePath) {
  const saved = savedStamp(bundlePath);
  if (!Array.isArray(saved) || saved.length === 0) return false;
  try {
    return (
      JSON.stringify(
        stampOf(
          root,
          saved.map((entry) => entry[0]),
        ),
      ) === JSON.stringify(saved)
    );
  } catch {
    // A source was removed or renamed.
    return false;
  }
}

/**
 * Builds `entry` (relative to `root`) into `bundlePath` unless the bundle there is fresh. Packages
 * stay external (resolved from the project's node_modules at run time; some carry native addons).
 * Written to a temporary file and renamed, so engines starting the plugin at once never read half
 * a bundle. Returns whether it built.
 * @param {{ root: string, entry: string, bundlePath: string }} options
 */
export async function ensureBundle({ root, entry, bundlePath }) {
  if (bundleIsFresh(root, bundlePath)) return false;
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  // Input paths in the metafile are relative to absWorkingDir.
  const inputs = Object.keys(result.metafile.inputs).map((path) => relative(root, join(root, path)));
  const stamp = STAMP_PREFIX + JSON.stringify(stampOf(root, inputs.sort()));
  mkdirSync(join(bundlePath, ".."), { recursive: true });
  const temporary = `${bundlePath}.${process.pid}.tmp`;
  writeFileSync(temporary, `${stamp}\n${output.text}`);
  renameSync(temporary, bundlePath);
  return true;
}
