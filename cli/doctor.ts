// `npm run doctor -- <stack>`: checks every host of a stack before `pulumi up` and prints a
// pass / warn / fail table with remedies. Exit code 1 when any check fails.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../components/config/validate.js";
import { loadStackFile } from "./doctor/loadStack.js";
import { runDoctor } from "./doctor/runDoctor.js";
import { exitCode, formatTable } from "./doctor/table.js";

const USAGE = "usage: doctor <stack name | path to Pulumi.<stack>.yaml> [--key-file <private key>]";

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  let keyFile: string | undefined;
  const k = args.indexOf("--key-file");
  if (k >= 0) {
    keyFile = args[k + 1];
    args.splice(k, 2);
  }
  const target = args[0];
  if (!target || args.length > 1 || (k >= 0 && !keyFile)) {
    console.error(USAGE);
    return 2;
  }
  const path = existsSync(target) ? target : join("stacks", `Pulumi.${target}.yaml`);
  if (!existsSync(path)) {
    console.error(`doctor: no stack file ${path}`);
    return 2;
  }
  let config;
  try {
    config = loadStackFile(path);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`doctor: ${path}: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const results = await runDoctor(config, keyFile ? { keyFile } : {});
  console.log(formatTable(results));
  return exitCode(results);
}

process.exitCode = await main(process.argv.slice(2));
