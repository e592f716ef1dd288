// What a test needs from the machine it runs on (root, commands, upstream specs, settings), checked
// in one place. A test declares its needs and gets back why it has to skip, or undefined; the reason
// is printed once, so a skipped test always says why (a clean clone anywhere skips, never fails).
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { SPECS_DIR_SETTING, upstreamSpecPath, upstreamSpecsDir } from "./upstream-specs.js";

export interface TestNeeds {
  /** Root, and what for (it goes into the reason), e.g. "network namespaces". */
  readonly root?: string;
  /** Executables that must be on the PATH. */
  readonly commands?: readonly string[];
  /** Upstream specs, relative to the specs directory (tests/upstream-specs.ts), e.g. CRI_SPEC. */
  readonly specs?: readonly string[];
  /** Environment variables that must be set and non-empty. */
  readonly env?: readonly string[];
  /** Why something else the test needs is missing, from a check of its own (undefined: present). */
  readonly unavailable?: string | undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && isExecutableFile(join(dir, command)));
}

function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Each need that is not met here, as a phrase; empty when the test can run. */
export function unmetNeeds(needs: TestNeeds, env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string[] {
  const unmet: string[] = [];
  if (needs.root !== undefined && uid !== 0) unmet.push(`needs root (${needs.root})`);
  const missingCommands = (needs.commands ?? []).filter((c) => !onPath(c, env));
  if (missingCommands.length > 0) unmet.push(`not on the PATH: ${missingCommands.join(", ")}`);
  const missingEnv = (needs.env ?? []).filter((name) => !env[name]);
  if (missingEnv.length > 0) unmet.push(`not set: ${missingEnv.join(", ")}`);
  if ((needs.specs ?? []).length > 0) {
    const missingSpecs = (needs.specs ?? []).filter((spec) => !isReadableFile(upstreamSpecPath(spec, env)));
    if (missingSpecs.length > 0) {
      unmet.push(
        `upstream spec${missingSpecs.length > 1 ? "s" : ""} ${missingSpecs.join(", ")} not found in ${upstreamSpecsDir(env)} (set ${SPECS_DIR_SETTING} to the directory holding it)`,
      );
    }
  }
  if (needs.unavailable !== undefined) unmet.push(needs.unavailable);
  return unmet;
}

const printed = new Set<string>();

/**
 * Why `test` cannot run here, or undefined when every need is met. The reason is printed once per
 * test and reason, so describe.each or a helper calling this twice does not repeat it.
 */
export function skipReason(test: string, needs: TestNeeds): string | undefined {
  const unmet = unmetNeeds(needs);
  if (unmet.length === 0) return undefined;
  const reason = unmet.join("; ");
  const line = `${test}: skipped, ${reason}`;
  if (!printed.has(line)) {
    printed.add(line);
    console.warn(line);
  }
  return reason;
}
