// The parts of a Pulumi URN a provider reports errors with:
// urn:pulumi:<stack>::<project>::<parent type>$<type>::<name>.
export function resourceType(urn: string): string {
  const types = urn.split("::")[2] ?? "";
  return types.split("$").at(-1) ?? "";
}

export function resourceName(urn: string): string {
  return urn.split("::").slice(3).join("::");
}
