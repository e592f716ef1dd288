// `npm run pulumi -- <up|preview|refresh|destroy|outputs> [--stack S] …`: the project's stacks
// through the pinned Pulumi engine (see cli/pulumi/workspace.ts for why the Automation API).
import { parseArgs } from "node:util";
import { ToolError } from "./pulumi/tools.js";
import { openStack } from "./pulumi/workspace.js";
import { playgroundDemo } from "./playground/from-outputs.js";

const USAGE = `usage: npm run pulumi -- <up|preview|refresh|destroy|outputs|demo> [options]
  demo                   (playground) helloworld booted, snapshotted, restored; its cold-start stages
  --stack NAME           stack (default: $VHIVE_STACK, else playground)
  --refresh              refresh state from the hosts first (finds drift)
  --expect-no-changes    fail if the operation would change anything
  --parallel N           resource operations at once`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      stack: { type: "string" },
      refresh: { type: "boolean" },
      "expect-no-changes": { type: "boolean" },
      parallel: { type: "string" },
      yes: { type: "boolean", short: "y" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [operation] = positionals;
  if (values.help || !operation) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const parallel = values.parallel === undefined ? undefined : Number(values.parallel);
  if (parallel !== undefined && (!Number.isInteger(parallel) || parallel < 1)) {
    console.error(`--parallel: expected a whole number of at least 1, got ${JSON.stringify(values.parallel)}`);
    return 2;
  }
  const stack = await openStack({ stack: values.stack ?? process.env.VHIVE_STACK ?? "playground" });
  // Summaries without decrypted secrets: nothing here prints them, and decrypting costs the
  // passphrase's key derivation once more after every operation (~0.3 s here).
  const common = {
    onOutput: (text: string) => process.stdout.write(text),
    showSecrets: false,
    ...(values.refresh ? { refresh: true } : {}),
    ...(values["expect-no-changes"] ? { expectNoChanges: true } : {}),
    ...(parallel ? { parallel } : {}),
  };
  switch (operation) {
    case "up":
      await stack.up(common);
      break;
    case "preview":
      await stack.preview(common);
      break;
    case "refresh":
      await stack.refresh({ onOutput: common.onOutput, showSecrets: false, ...(values["expect-no-changes"] ? { expectNoChanges: true } : {}) });
      break;
    case "destroy":
      await stack.destroy({ onOutput: common.onOutput, showSecrets: false, ...(values.refresh ? { refresh: true } : {}) });
      break;
    case "demo":
      await playgroundDemo(await stack.outputs());
      break;
    case "outputs":
      for (const [key, output] of Object.entries(await stack.outputs())) console.log(`${key}: ${output.secret ? "[secret]" : JSON.stringify(output.value)}`);
      break;
    default:
      console.error(`unknown operation ${JSON.stringify(operation)}\n${USAGE}`);
      return 2;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // The engine has already printed its diagnostics; add one line that says what failed.
    if (error instanceof ToolError) console.error(`npm run pulumi: ${error.message}`);
    else console.error(`npm run pulumi: ${error instanceof Error ? (error.message.split("\n").find((l) => l.trim()) ?? error.name) : String(error)}`);
    process.exit(1);
  },
);
