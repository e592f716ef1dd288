// The loader's Knative function set through the real Pulumi engine (the pinned CLI and Kubernetes
// plugin, the Functions component as an inline program): a preview of the Services it would make for
// sampled trace functions, with the manifests' content as the engine received it. There is no
// Kubernetes cluster here (Kubernetes' binaries and Knative's images come from upstream hosts this
// machine cannot reach): the kubeconfig points at a closed loopback port, and the preview, whose
// provider is itself new in the stack, plans the creates without contacting it. Nothing is created.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTools, PULUMI_TOOLS } from "#cli/pulumi/tools.js";
import { readTrace, type TraceFunction } from "../trace/azure-trace.js";
import { writeGeneratedTrace } from "../trace/generate.js";
import { sampleFunctions } from "./schedule.js";
import { loaderCommand } from "./main.js";
import { TraceServicesStack, traceFunctionSpecs, traceServicesProgram } from "./knative-functions.js";

const work = mkdtempSync(path.join(tmpdir(), "loader-knative-"));
const saved = { PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE };

// A kubeconfig of a cluster that is not there (nothing listens on 127.0.0.1:9): stands in for the
// provisioner's admin kubeconfig, which needs a cluster this machine cannot run.
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
users: [{name: none, user: {token: not-a-real-token}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`;

let trace: TraceFunction[] = [];

beforeAll(async () => {
  trace = await readTrace(
    await writeGeneratedTrace(path.join(work, "trace"), { functions: 12, minutes: 3, seed: 7, maxPerMinute: 30, maxDurationMs: 500, maxMemoryMb: 128 }),
  );
  await ensureTools(PULUMI_TOOLS);
  // The test's own passphrase: the stack lives and dies in the test's directory.
  process.env.PULUMI_CONFIG_PASSPHRASE = "loader knative preview test";
}, 1_800_000);

afterAll(() => {
  if (saved.PULUMI_CONFIG_PASSPHRASE === undefined) delete process.env.PULUMI_CONFIG_PASSPHRASE;
  else process.env.PULUMI_CONFIG_PASSPHRASE = saved.PULUMI_CONFIG_PASSPHRASE;
  rmSync(work, { recursive: true, force: true });
});

describe("the loader's Knative Services of sampled trace functions", () => {
  it("preview through the real engine: one Ready-waiting Knative Service per sampled function, gVisor runtime class, the trace function's port on h2c", async () => {
    const { sampled } = sampleFunctions(trace, { count: 3, seed: 7, minutes: 3 });
    expect(sampled).toHaveLength(3);
    const specs = traceFunctionSpecs(sampled, { image: "registry.example:5000/vhive/trace-func:1", runId: "t1", maxMemoryMiB: 128, maxScale: 2 });
    const program = traceServicesProgram({ kubeconfig: KUBECONFIG, domain: "10.0.0.240.sslip.io", sandbox: "gvisor", namespace: "loader" }, specs);
    const events: EngineEvent[] = [];
    let output = "";
    const stack = await TraceServicesStack.open("t1", program, { stateDir: path.join(work, "stack"), onOutput: (t) => (output += t) });
    const result = await stack.stack.preview({ onOutput: (t) => (output += t), onEvent: (e) => events.push(e) });
    expect(output).not.toMatch(/^\s*error:/m);
    expect(result.changeSummary.create).toBeGreaterThanOrEqual(3);

    const services = events
      .map((e) => e.resourcePreEvent?.metadata)
      .filter((m) => m?.type === "kubernetes:serving.knative.dev/v1:Service")
      .map((m) => m!.new!.inputs as Record<string, any>);
    expect(services.map((s) => s.metadata.name).sort()).toEqual(["trace-t1-0-0", "trace-t1-1-0", "trace-t1-2-0"]);
    for (const s of services) {
      expect(s.metadata.namespace).toBe("loader");
      expect(s.metadata.annotations["pulumi.com/waitFor"]).toBe("condition=Ready");
      const tmpl = s.spec.template;
      expect(tmpl.metadata.annotations["autoscaling.knative.dev/max-scale"]).toBe("2");
      expect(tmpl.spec.runtimeClassName).toBe("gvisor");
      const [c] = tmpl.spec.containers;
      expect(c.image).toBe("registry.example:5000/vhive/trace-func:1");
      expect(c.ports).toEqual([{ name: "h2c", containerPort: 50051 }]);
      expect(c.env).toContainEqual({ name: "TRACE_FUNC_MAX_MEMORY_MIB", value: "128" });
    }
    // The component's endpoints.json output, as the loader reads it after `up`.
    expect(output).toContain('"trace-t1-2-0.loader.10.0.0.240.sslip.io"');
    // The kubeconfig is a secret of the stack: never in the engine's output.
    expect(output).not.toContain("not-a-real-token");
  }, 600_000);
});

describe("specs and program inputs", () => {
  it("names follow the run; bad run ids, images, sandboxes and domains are refused naming the field", () => {
    expect(traceFunctionSpecs(trace.slice(0, 2), { image: "r/i:1", runId: "ab12" }).map((s) => s.name)).toEqual(["trace-ab12-0", "trace-ab12-1"]);
    expect(() => traceFunctionSpecs(trace, { image: "r/i:1", runId: "Bad_Id" })).toThrow(/runId/);
    expect(() => traceFunctionSpecs(trace, { image: "r/i 1", runId: "a" })).toThrow(/image/);
    expect(() => traceServicesProgram({ kubeconfig: KUBECONFIG, domain: "d", sandbox: "kata" as never }, [])).toThrow(/sandbox/);
    expect(() => traceServicesProgram({ kubeconfig: KUBECONFIG, domain: " ", sandbox: "gvisor" }, [])).toThrow(/domain/);
  });

  it("the CLI names what a deploying run lacks before anything is deployed", async () => {
    const dir = path.join(work, "trace");
    await expect(loaderCommand(["--trace", dir, "--kubeconfig", path.join(work, "none.yaml"), "--domain", "d.example"])).rejects.toThrow(
      /--kubeconfig needs --image/,
    );
    await expect(loaderCommand(["--trace", dir, "--kubeconfig", path.join(work, "none.yaml"), "--image", "r/i:1"])).rejects.toThrow(
      /--kubeconfig needs --domain/,
    );
    await expect(loaderCommand(["--trace", dir, "--kubeconfig", path.join(work, "none.yaml"), "--image", "r/i:1", "--domain", "d.example"])).rejects.toThrow(
      /--kubeconfig: cannot read .*none\.yaml/,
    );
    await expect(
      loaderCommand(["--trace", dir, "--kubeconfig", path.join(work, "none.yaml"), "--image", "r/i:1", "--domain", "d.example", "--sandbox", "kata"]),
    ).rejects.toThrow(/--sandbox: expected one of gvisor, containerd, firecracker/);
  });
});
