// `npm run doctor -- <stack>`: checks every host of a stack before `pulumi up` and prints a
// pass / warn / fail table with remedies. Exit code 1 when any check fails, 2 when the stack
// file or the arguments cannot be used (one line, no trace).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../components/config/validate.js";
import { loadStackFile, StackFileError } from "./doctor/load-stack.js";
import { runDoctor } from "./doctor/run-doctor.js";
import { DEFAULT_EXEC_TIMEOUT_S } from "./doctor/session.js";
import { sanitize } from "./doctor/sanitize.js";
import { exitCode, formatTable } from "./doctor/table.js";
import { errorMessage } from "../node-runtime/system/error-message.js";

const USAGE = `usage: doctor <stack name | path to Pulumi.<stack>.yaml> [--key-file <private key>] [--exec-timeout <seconds, default ${DEFAULT_EXEC_TIMEOUT_S}>]`;

/** Removes `--name value` from args; undefined when absent, null when the value is missing. */
function takeOption(args: string[], name: string): string | undefined | null {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value === undefined || value.startsWith("--") ? null : value;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const keyFile = takeOption(args, "--key-file");
  const execTimeout = takeOption(args, "--exec-timeout");
  const execTimeoutS = execTimeout === undefined || execTimeout === null ? undefined : Number(execTimeout);
  const target = args[0];
  if (!target || args.length > 1 || keyFile === null || execTimeout === null || (execTimeoutS !== undefined && !(execTimeoutS > 0))) {
    console.error(USAGE);
    return 2;
  }
  const path = existsSync(target) ? target : join("stacks", `Pulumi.${target}.yaml`);
  if (!existsSync(path)) {
    console.error(`doctor: no stack file ${sanitize(path)}`);
    return 2;
  }
  let stack;
  try {
    stack = loadStackFile(path);
  } catch (error) {
    if (error instanceof StackFileError) {
      console.error(`doctor: ${sanitize(path)}: ${error.message}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(`doctor: ${sanitize(path)}: ${error.problems.length === 1 ? `invalid stack configuration: ${error.problems[0]}` : error.message}`);
      return 2;
    }
    throw error;
  }
  const results = await runDoctor(stack.config, {
    ...(keyFile ? { keyFile } : {}),
    ...(execTimeoutS !== undefined ? { execTimeoutS } : {}),
    encrypted: stack.encrypted,
    plainSecrets: stack.plainSecrets,
  });
  console.log(formatTable(results));
  return exitCode(results);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // Anything unforeseen is still one line: a trace helps no user of a preflight check.
  console.error(`doctor: ${sanitize(errorMessage(error))}`);
  process.exitCode = 2;
}
