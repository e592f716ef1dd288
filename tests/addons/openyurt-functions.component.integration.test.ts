import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StandInResource, installMockCluster, settle, outputValue, type MockCluster } from "../doubles/addons/mock-cluster.js";
import { FixtureFetcher, sha256 } from "../doubles/addons/release-fixtures.js";
import { validateObject } from "./validate-object.js";

let cluster: MockCluster;
let openyurt: typeof import("#components/openyurt/index.js");
let functions: typeof import("#components/functions/index.js");

const originalTmp = process.env.TMPDIR;
const chartTmp = mkdtempSync(join(tmpdir(), "h2-addons-"));
afterAll(async () => {
  // Chart archives are written when their inputs resolve: let those land before cleanup.
  await settle(200);
  if (originalTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = originalTmp;
  rmSync(chartTmp, { recursive: true, force: true });
});

beforeAll(async () => {
  process.env.TMPDIR = chartTmp;
  cluster = await installMockCluster();
  openyurt = await import("#components/openyurt/index.js");
  functions = await import("#components/functions/index.js");
});

const provider = () => new k8s.Provider(`k8s-${Math.random().toString(36).slice(2, 8)}`, { kubeconfig: pulumi.secret("kubeconfig") });
// Stand-ins for the two chart archives (their bytes only matter for the checksum).
const charts: Record<string, string> = { "yurt-manager": "yurt-manager chart stand-in", yurthub: "yurthub chart stand-in" };
const chartChecksums = Object.fromEntries(Object.entries(charts).map(([k, v]) => [k, sha256(v)]));
const chartFetcher = () => new FixtureFetcher((url) => (url.includes("yurthub-") ? charts.yurthub! : charts["yurt-manager"]!));

describe("Functions under mocks", () => {
  it("firecracker: stub + GUEST_IMAGE for each copy, named as vSwarm's deployer names them", async () => {
    const fns = new functions.Functions("fcfns", {
      provider: provider(),
      sandbox: "firecracker",
      functions: [{ ...functions.FUNCTION_CATALOG.pyaes!, count: 2 }, "helloworld"],
      domain: "192.0.2.240.sslip.io",
    });
    expect(fns.serviceNames).toEqual(["pyaes-0", "pyaes-1", "helloworld-0"]);
    expect(JSON.parse(await outputValue(fns.endpointsJson)).map((e: { hostname: string }) => e.hostname)).toEqual([
      "pyaes-0.default.192.0.2.240.sslip.io",
      "pyaes-1.default.192.0.2.240.sslip.io",
      "helloworld-0.default.192.0.2.240.sslip.io",
    ]);
    await settle();
    const ksvc = cluster.byName("fcfns-pyaes-1").inputs as any;
    expect(ksvc.apiVersion).toBe("serving.knative.dev/v1");
    expect(ksvc.metadata.annotations["pulumi.com/waitFor"]).toBe("condition=Ready");
    expect(ksvc.spec.template.spec.containers[0].env).toContainEqual({ name: "GUEST_IMAGE", value: "ghcr.io/ease-lab/pyaes:var_workload" });
    const { annotations: _a, ...metadata } = ksvc.metadata;
    expect(() => validateObject({ ...ksvc, metadata })).not.toThrow();
  });

  it("refuses unknown catalog names and duplicate names", () => {
    expect(() => new functions.Functions("x1", { provider: provider(), sandbox: "gvisor", functions: ["nope"], domain: "d" })).toThrow(
      'functions[0]: unknown function "nope" (catalog: helloworld, pyaes, rnn-serving; or give {name, image, port})',
    );
    // Names every object inherits are not catalog entries.
    for (const inherited of ["constructor", "toString", "__proto__"])
      expect(() => new functions.Functions(`x-${inherited}`, { provider: provider(), sandbox: "gvisor", functions: [inherited], domain: "d" })).toThrow(
        `functions[0]: unknown function "${inherited}"`,
      );
    expect(() => new functions.Functions("x2", { provider: provider(), sandbox: "gvisor", functions: ["pyaes", "pyaes"], domain: "d" })).toThrow(
      'functions: two functions are both named "pyaes-0"',
    );
  });
});

describe("OpenYurt under mocks", () => {
  it("charts, pools, memberships and per-pool demo functions in order; host steps secret", async () => {
    const joined = new StandInResource("oy-joined");
    const oy = new openyurt.OpenYurt(
      "oy",
      {
        provider: provider(),
        sandbox: "containerd",
        nodes: [
          { name: "cp-0", pool: "cloud" },
          { name: "edge-1", pool: "edge" },
        ],
        checksums: chartChecksums,
        apiServerUrl: "https://192.0.2.10:6443",
        bootstrapToken: pulumi.secret("abcdef.0123456789abcdef"),
        domain: "192.0.2.240.sslip.io",
        fetcher: chartFetcher(),
      },
      { dependsOn: [joined] },
    );
    expect(await pulumi.isSecret(oy.hostSteps)).toBe(true);
    const steps = await outputValue(oy.hostSteps);
    expect(steps.map((s) => [s.node, s.pool])).toEqual([
      ["cp-0", "cloud"],
      ["edge-1", "edge"],
    ]);
    expect(steps[1]!.create).toContain("--working-mode=edge");
    expect(JSON.parse(await outputValue(oy.endpointsJson)).map((e: { hostname: string }) => e.hostname)).toEqual([
      "helloworld-0-cloud.default.192.0.2.240.sslip.io",
      "helloworld-0-edge.default.192.0.2.240.sslip.io",
    ]);
    await settle(40);

    const deps = (n: string) => cluster.dependencyNames(n);
    expect(deps("oy-yurt-manager")).toEqual(["oy-joined"]);
    expect(deps("oy-yurthub")).toEqual(["oy-joined", "oy-yurt-manager"]);
    expect(deps("oy-nodepools")).toEqual(["oy-joined", "oy-yurt-manager"]);
    expect(deps("oy-node-1")).toEqual(["oy-joined", "oy-nodepools"]);
    expect(deps("oy-demo-edge-helloworld-0-edge")).toEqual(expect.arrayContaining(["oy-node-0", "oy-node-1", "oy-yurthub", "oy-joined"]));

    const pools = (cluster.byName("oy-nodepools").inputs as { objs: any[] }).objs;
    for (const p of pools) expect(() => validateObject(p)).not.toThrow();
    expect(pools.map((p) => [p.metadata.name, p.spec.type])).toEqual([
      ["cloud", "Cloud"],
      ["edge", "Edge"],
    ]);
    const edge = (cluster.byName("oy-node-1").inputs as any).metadata;
    expect(edge.labels).toEqual({ "apps.openyurt.io/nodepool": "edge", "openyurt.io/is-edge-worker": "true" });
    expect(edge.annotations["node.openyurt.io/autonomy-duration"]).toBe("0");
    expect((cluster.byName("oy-node-0").inputs as any).metadata.annotations["node.openyurt.io/autonomy-duration"]).toBeUndefined();
    const edgeFn = cluster.byName("oy-demo-edge-helloworld-0-edge").inputs as any;
    expect(edgeFn.spec.template.spec.nodeSelector).toEqual({ "apps.openyurt.io/nodepool": "edge" });
    // The token never reaches a resource input.
    for (const r of cluster.registrations) expect(JSON.stringify(r.rawInputs)).not.toContain("0123456789abcdef");
  });

  it("needs a cloud node", () => {
    const base = {
      provider: provider(),
      sandbox: "containerd" as const,
      apiServerUrl: "https://192.0.2.10:6443",
      bootstrapToken: pulumi.secret("abcdef.0123456789abcdef"),
      domain: "d",
    };
    expect(() => new openyurt.OpenYurt("oy2", { ...base, nodes: [{ name: "e", pool: "edge" }], checksums: chartChecksums })).toThrow(
      "openyurt.nodes: at least one node must be in the cloud pool",
    );
  });
});
