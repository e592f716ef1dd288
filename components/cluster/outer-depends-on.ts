// A component's `dependsOn`, handed to every resource inside it. Pulumi makes what depends on a
// component wait for all of its children, but not the children wait for what the component
// depends on: a host step could start before a machine the component was told to wait for is up.
// A transform on the component (the engine runs it for every resource inside, however deep) adds
// those dependencies to each custom resource.
import * as pulumi from "@pulumi/pulumi";

/** The resources a `dependsOn` option names directly (an Output or promise of them is left out). */
function namedResources(dependsOn: pulumi.ComponentResourceOptions["dependsOn"]): pulumi.Resource[] {
  if (dependsOn === undefined) return [];
  if (pulumi.Resource.isInstance(dependsOn)) return [dependsOn];
  if (Array.isArray(dependsOn)) return dependsOn.filter((d): d is pulumi.Resource => pulumi.Resource.isInstance(d));
  return [];
}

/** The component's options with a transform that gives every custom resource inside its `dependsOn`. */
export function withDependsOnInside(opts: pulumi.ComponentResourceOptions | undefined): pulumi.ComponentResourceOptions | undefined {
  const outer = namedResources(opts?.dependsOn);
  if (outer.length === 0) return opts;
  const handOn: pulumi.ResourceTransform = (args) =>
    args.custom ? { props: args.props, opts: pulumi.mergeOptions(args.opts, { dependsOn: outer }) } : undefined;
  // First, so the caller's own transforms see the dependencies too.
  return { ...opts, transforms: [handOn, ...(opts?.transforms ?? [])] };
}
