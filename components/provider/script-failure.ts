// The error a failed step script becomes: host and step named, the exit status, and the end of
// what the script wrote to stderr (where steps say what went wrong), bounded in size.
import { NEEDS_SUDO_EXIT } from "./runner.js";

const TAIL_LINES = 25;
const TAIL_CHARS = 4000;

export class StepFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StepFailedError";
  }
}

export function tail(text: string): string {
  const lines = text.trimEnd().split("\n").slice(-TAIL_LINES).join("\n");
  return lines.length > TAIL_CHARS ? `…${lines.slice(-TAIL_CHARS)}` : lines;
}

export function stepFailure(where: string, step: string, phase: string, code: number | null, signal: string | null, stderr: string): StepFailedError {
  if (code === NEEDS_SUDO_EXIT) return new StepFailedError(`${where}: step ${step} (${phase}): ${tail(stderr) || "the SSH user needs passwordless sudo"}`);
  const status = code === null ? `was killed by ${signal ?? "a signal"}` : `exited with ${code}`;
  const detail = tail(stderr);
  return new StepFailedError(`${where}: step ${step} (${phase}) ${status}${detail ? `:\n${detail}` : ""}`);
}
