#!/usr/bin/env node
// `node-runtime`: serve the node runtime's gRPC API, drive it (start, stop, invoke, ls, snapshot,
// metrics) and run the cold-start benchmark.
import { CLIENT_USAGE, clientCommand } from "./client-commands.js";
import { CliError, describeError } from "./cli-error.js";
import { SERVE_USAGE } from "./serve-usage.js";

const IMAGE_USAGE = `node-runtime image load PATH [--ref REF] [--image-dir DIR]   (OCI layout dir or OCI tarball)
node-runtime image ls [--image-dir DIR]`;

const USAGE = `usage:
${SERVE_USAGE}
${CLIENT_USAGE}
${IMAGE_USAGE}
node-runtime bench [--sandboxes gvisor,containerd] [--iterations N]   (the cold-start benchmark)`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE + "\n");
      return;
    case "serve": {
      // Loaded on demand: the client commands should not pay for loading the whole runtime.
      const { serveCommand } = await import("./serve-command.js");
      return serveCommand(rest);
    }
    case "image": {
      const { imageCommand } = await import("./image-command.js");
      return imageCommand(rest);
    }
    case "bench": {
      const { benchCommand } = await import("../../bench/coldstart.js");
      return benchCommand(rest);
    }
    default:
      return clientCommand(command, rest);
  }
}

main(process.argv.slice(2)).then(
  () => {
    // gRPC clients keep handles open for a moment after close; a finished command exits now.
    if (process.argv[2] !== "serve") process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`node-runtime: ${describeError(err)}\n`);
    if (err instanceof CliError && err.exitCode === 2) process.stderr.write(`\n${USAGE}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  },
);
