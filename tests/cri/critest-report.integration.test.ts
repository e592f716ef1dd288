import { describe, expect, it } from "vitest";
import { compareRuns, critestOutcomes } from "./critest-report.js";

// critest's ginkgo JSON report, cut down to the fields read: suite nodes are not specs, and a spec
// is named by its containers and its own text.
const report = (states: Record<string, string>) => [
  {
    SpecReports: [
      { LeafNodeType: "BeforeSuite", LeafNodeText: "", State: "passed" },
      ...Object.entries(states).map(([leaf, State]) => ({
        ContainerHierarchyTexts: ["[k8s.io] Image Manager"],
        LeafNodeText: leaf,
        LeafNodeType: "It",
        State,
      })),
    ],
  },
];

describe("critest report", () => {
  it("names specs by their containers and counts only specs", () => {
    const outcomes = critestOutcomes(report({ "pulls by tag": "passed", "pulls by digest": "failed", windows: "skipped" }));
    expect([...outcomes]).toEqual([
      ["[k8s.io] Image Manager pulls by tag", "passed"],
      ["[k8s.io] Image Manager pulls by digest", "failed"],
      ["[k8s.io] Image Manager windows", "skipped"],
    ]);
  });

  it("lists a spec ending differently, or run only once, as a difference", () => {
    const direct = critestOutcomes(report({ a: "passed", b: "failed", c: "passed", d: "timedout" }));
    const proxy = critestOutcomes(report({ a: "passed", b: "failed", c: "panicked", d: "timedout", e: "passed" }));
    const r = compareRuns(direct, proxy);
    expect(r.differences).toEqual(["[k8s.io] Image Manager c: passed -> panicked", "[k8s.io] Image Manager e: absent -> passed"]);
    expect(r.failedBothWays).toEqual(["[k8s.io] Image Manager b", "[k8s.io] Image Manager d"]);
    expect(r.direct).toEqual({ passed: 2, failed: 2, skipped: 0 });
    expect(r.proxy).toEqual({ passed: 2, failed: 3, skipped: 0 });
  });

  it("refuses a report that is not a list of suites", () => {
    expect(() => critestOutcomes({})).toThrow(/JSON array/);
  });
});
