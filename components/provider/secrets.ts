// Pulumi hands a provider secret inputs in their wire form and keeps outputs secret only in that
// form: unwrap to work with the values, wrap what must stay secret in state.
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc.js";

export function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

/** The plain value, with every nested secret unwrapped. */
export function reveal(value: unknown): unknown {
  if (isSecret(value)) return reveal(value.value);
  if (Array.isArray(value)) return value.map(reveal);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, reveal(v)]));
  return value;
}

export function secret(value: unknown): Record<string, unknown> {
  return { [specialSigKey]: specialSecretSig, value };
}
