// Starts the provider plugin from its bundle (see bundle.mjs), rebuilding the bundle first when a
// source changed. The bundle sits under the project's node_modules so that its external imports
// resolve from there; VHIVE_PROVIDER_BUNDLE names another path.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureBundle } from "./bundle.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bundlePath = process.env.VHIVE_PROVIDER_BUNDLE ?? join(root, "node_modules", ".cache", "vhive-provider", "main.mjs");
await ensureBundle({ root, entry: "components/provider/main.ts", bundlePath });
await import(pathToFileURL(bundlePath).href);
