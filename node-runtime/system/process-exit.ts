// How a process ended: `code` is its exit status when it exited, `signal` the signal that killed it;
// both null when that could not be learnt (a process only polled, a connection that closed first).
// Kept here, beside errorMessage, for the same reason: the runtime ships alone, everyone else may
// import from it.
export interface ProcessExit {
  code: number | null;
  signal: string | null;
}
