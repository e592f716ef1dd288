// The host step graph: dependencies are step names the compiler knows, and a graph that cannot be
// run in list order (unknown step, cycle, a step listed before what it needs) is refused at plan
// time with the steps named.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../config/validate.js";
import { hostStep, type HostStep, type HostStepContext, type HostStepName } from "./host-step.js";
import { HOST_BOOTSTRAP_STEPS } from "./index.js";
import { checkHostStepGraph, planHostSteps } from "./plan-host-steps.js";

const context: HostStepContext = { config: parseStackConfig({}), plan: { name: "n", runsSandbox: true } };
const bodies = { create: ":", delete: ":" };
/** A step of the given name and needs; `name` cast, as a caller without the types would pass it. */
const raw = (name: string, after: string[], when = true): HostStep => ({
  name: name as HostStepName,
  after: after as HostStepName[],
  when: () => when,
  build: () => bodies,
});

describe("host step graph", () => {
  it("takes only step names in after, and never the step itself (checked by tsc)", () => {
    const misspelt = hostStep({
      name: "sysctl",
      // @ts-expect-error "kernel-module" is not a host step: a misspelt dependency does not compile.
      after: ["kernel-module"],
      when: () => true,
      build: () => bodies,
    });
    hostStep({
      name: "sysctl",
      // @ts-expect-error a step cannot need itself.
      after: ["sysctl"],
      when: () => true,
      build: () => bodies,
    });
    // The same mistake made without the types is caught when the steps are planned.
    expect(() => planHostSteps([raw("kernel-modules", []), misspelt], context)).toThrow(
      "host steps: sysctl needs kernel-module, which is not a host step (known: kernel-modules, sysctl)",
    );
  });

  it("refuses a cycle, naming the steps in it", () => {
    const steps = [raw("limits", []), raw("packages", ["limits", "containerd"]), raw("kernel-modules", ["packages"]), raw("containerd", ["kernel-modules"])];
    expect(() => checkHostStepGraph(steps)).toThrow("host steps: a cycle of needs: packages -> containerd -> kernel-modules -> packages");
    expect(() => planHostSteps(steps, context)).toThrow(/a cycle of needs/);
  });

  it("refuses a step listed before one it needs, and a step defined twice", () => {
    expect(() => checkHostStepGraph([raw("packages", ["limits"]), raw("limits", [])])).toThrow("host steps: packages is listed before limits, which it needs");
    expect(() => checkHostStepGraph([raw("limits", []), raw("limits", [])])).toThrow("host steps: limits is defined twice");
  });

  it("leaves out the steps a host does not get, and the needs on them", () => {
    const steps = [raw("limits", []), raw("apt-proxy", ["limits"], false), raw("packages", ["apt-proxy", "limits"])];
    expect(planHostSteps(steps, context).map((s) => [s.name, s.after])).toEqual([
      ["limits", []],
      ["packages", ["limits"]],
    ]);
  });

  it("wraps each step's bodies into complete scripts named after the step", () => {
    const [step] = planHostSteps([raw("limits", [])], context);
    expect(step!.create).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(step!.create).toContain("\nstep=limits\n");
    expect(step!.delete).toContain("\nstep=limits\n");
  });

  it("the bootstrap's steps form a graph that plans", () => {
    expect(() => checkHostStepGraph(HOST_BOOTSTRAP_STEPS)).not.toThrow();
    expect(new Set(HOST_BOOTSTRAP_STEPS.map((s) => s.name)).size).toBe(HOST_BOOTSTRAP_STEPS.length);
  });
});
