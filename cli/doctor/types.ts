// One row of doctor's report: a check on a host, its verdict, what was seen, and how to fix it.
export type Verdict = "pass" | "warn" | "fail";

export interface CheckResult {
  readonly host: string;
  readonly check: string;
  readonly verdict: Verdict;
  readonly detail: string;
  /** What to do about a warn or fail. */
  readonly remedy?: string;
}

/** Runs a shell command on the host; resolves with its output and exit code. */
export type Remote = (command: string) => Promise<{ stdout: string; stderr: string; code: number | null }>;
