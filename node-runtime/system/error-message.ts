// The message of anything thrown (an Error's message, anything else as a string), for logs and for
// errors that wrap another. It lives in the node runtime, with no imports, because the runtime ships
// to workers on its own (only node-runtime/ is bundled) and so can import nothing outside it; the
// provisioner, the CLI, experiments and tests import it from here (they already depend on the
// runtime's modules, never the other way round, so this makes no cycle).
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
