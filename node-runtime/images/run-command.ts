import { spawn } from "node:child_process";

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the command's standard input. */
  input?: string | Buffer;
}

/**
 * Runs a program without a shell and resolves with its output; rejects with an error that names
 * the program, its exit status and the tail of its stderr, so failures explain themselves.
 */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error) => reject(new Error(`cannot run ${file}: ${error.message}`)));
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const status = signal ? `signal ${signal}` : `exit code ${code}`;
      const tail = stderr.trim().split("\n").slice(-12).join("\n");
      reject(new Error(`${file} ${args.join(" ")} failed with ${status}${tail ? `:\n${tail}` : ""}`));
    });
    if (options.input !== undefined && child.stdin) child.stdin.end(options.input);
  });
}
