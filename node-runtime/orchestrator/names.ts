import { invalidArgument } from "./errors.js";

// Revisions and instance ids become directory names, namespace names and runsc container ids, so
// they are restricted to a portable, path-safe alphabet (Knative's K_REVISION values fit it) and to
// 64 characters, the shortest limit among the drivers (gVisor's container ids).
export const MAX_NAME_LENGTH = 64;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkRevision(revision: string): string {
  if (!NAME.test(revision) || revision.includes("..")) {
    throw invalidArgument(`revision ${JSON.stringify(revision)} is invalid: use 1-64 characters from [A-Za-z0-9._-], starting with a letter or digit`);
  }
  return revision;
}

export function checkInstanceId(id: string): string {
  if (!NAME.test(id) || id.includes("..")) {
    throw invalidArgument(`instance id ${JSON.stringify(id)} is invalid: use 1-64 characters from [A-Za-z0-9._-], starting with a letter or digit`);
  }
  return id;
}

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgument(`port ${port} is invalid: expected an integer in 1..65535`);
  }
  return port;
}
