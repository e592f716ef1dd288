// Turns the step definitions into one host's steps: checks the graph (every needed step exists,
// no cycle, each listed after what it needs, so the list order is one the steps can run in), keeps
// the steps the host gets, and drops needs on steps it does not get.
import type { Step } from "../scripts/step.js";
import type { HostStep, HostStepContext } from "./host-step.js";
import { hostScriptStep } from "./script-step.js";

/** Throws naming the step when the definitions cannot be planned; silent when they can. */
export function checkHostStepGraph(steps: readonly HostStep[]): void {
  const byName = new Map<string, HostStep>();
  for (const s of steps) {
    if (byName.has(s.name)) throw new Error(`host steps: ${s.name} is defined twice`);
    byName.set(s.name, s);
  }
  for (const s of steps)
    for (const need of s.after as readonly string[])
      if (!byName.has(need)) throw new Error(`host steps: ${s.name} needs ${need}, which is not a host step (known: ${[...byName.keys()].join(", ")})`);
  // Depth-first, keeping the path, so a cycle is reported as the steps that form it.
  const done = new Set<string>();
  const visit = (name: string, path: readonly string[]): void => {
    if (path.includes(name)) throw new Error(`host steps: a cycle of needs: ${[...path.slice(path.indexOf(name)), name].join(" -> ")}`);
    if (done.has(name)) return;
    for (const need of byName.get(name)!.after) visit(need, [...path, name]);
    done.add(name);
  };
  for (const s of steps) visit(s.name, []);
  const position = new Map(steps.map((s, i) => [s.name as string, i]));
  for (const [i, s] of steps.entries())
    for (const need of s.after) if (position.get(need)! > i) throw new Error(`host steps: ${s.name} is listed before ${need}, which it needs`);
}

/** The steps one host gets, in list order, each with the needs among them. */
export function planHostSteps(steps: readonly HostStep[], context: HostStepContext): Step[] {
  checkHostStepGraph(steps);
  const chosen = steps.filter((s) => s.when(context));
  const present = new Set<string>(chosen.map((s) => s.name));
  return chosen.map((s) => {
    const bodies = s.build(context);
    return { ...hostScriptStep(s.name, bodies.create, bodies.delete), after: s.after.filter((need) => present.has(need)) };
  });
}
