import * as pulumi from "@pulumi/pulumi";

/**
 * A component's `dependsOn` plus `inner`, for its children. Children are registered after their
 * parent, but the engine records no dependency edge from them to what the parent waits for;
 * repeating the parent's dependencies makes the order explicit in the graph (and on destroy).
 * A `dependsOn` given as an Output or promise is left to the parent chain.
 */
export function withOuterDependsOn(
  outer: pulumi.ComponentResourceOptions["dependsOn"],
  inner: pulumi.Resource[],
): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
  if (outer === undefined) return inner;
  if (Array.isArray(outer)) return [...(outer as pulumi.Input<pulumi.Resource>[]), ...inner];
  if (pulumi.Resource.isInstance(outer)) return [outer, ...inner];
  return inner;
}
