import { ImageError } from "./errors.js";

/** An image reference split the way the distribution API needs it. */
export interface ImageReference {
  /** Registry host[:port]. */
  registry: string;
  /** Repository path inside the registry, e.g. "vhive/helloworld". */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Parses `[registry/]repository[:tag][@sha256:…]`. The first path part is a registry when it has
 * a dot or a port or is "localhost"; otherwise `defaultRegistry` is used, and without one the
 * reference is rejected (we never guess a public registry).
 */
export function parseReference(ref: string, defaultRegistry?: string): ImageReference {
  let rest = ref.trim();
  if (rest === "") throw new ImageError("INVALID_ARGUMENT", "image reference is empty");
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new ImageError("INVALID_ARGUMENT", `image reference "${ref}" has an invalid digest "${digest}"`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ImageError("INVALID_ARGUMENT", `image reference "${ref}" has an invalid tag "${tag}"`);
  }
  const parts = rest.split("/");
  let registry: string | undefined;
  if (parts.length > 1 && (parts[0]!.includes(".") || parts[0]!.includes(":") || parts[0] === "localhost")) {
    registry = parts.shift();
  }
  registry ??= defaultRegistry;
  if (!registry) throw new ImageError("INVALID_ARGUMENT", `image reference "${ref}" names no registry host (write it as host[:port]/repository:tag)`);
  for (const part of parts) {
    if (!COMPONENT.test(part)) throw new ImageError("INVALID_ARGUMENT", `image reference "${ref}" has an invalid repository part "${part}"`);
  }
  return { registry, repository: parts.join("/"), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), ...(!tag && !digest ? { tag: "latest" } : {}) };
}
