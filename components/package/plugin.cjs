// The package as the engine starts it. Pulumi's Node.js plugin runner loads a plugin with
// require() and, when the export is a function, calls it and waits. The package is ESM TypeScript,
// which require() cannot load on Node 20 (and PulumiPlugin.yaml's nodeargs reach the runner, not
// Node), so this CommonJS entry registers tsx's loader and hands over to host-components.ts.
"use strict";
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");

module.exports = async function startComponentProvider() {
  // tsx's CommonJS API build resolves its loader to a path that does not exist; its ESM build is right.
  const { register } = await import("tsx/esm/api");
  register();
  const { hostComponents } = await import(pathToFileURL(join(__dirname, "host-components.ts")).href);
  await hostComponents();
};
