// The assertions every stack file must pass under mocks: the resource graph (hosts in
// parallel, each host's steps after what they need, workers after the control plane, in-cluster work after the joins,
// functions after Knative, OpenYurt after the joins) and secrets that stay secret.
import { beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { runStack, stackConfigMap, PROJECT, type StackRun } from "./mocked-program.js";

async function isSecret(value: unknown): Promise<boolean> {
  if (!pulumi.Output.isInstance(value)) return false;
  return (value as unknown as { isSecret: Promise<boolean> }).isSecret;
}

async function resolved(value: unknown): Promise<unknown> {
  return pulumi.Output.isInstance(value) ? new Promise((r) => value.apply((v) => r(v))) : value;
}

interface HostEntry {
  name: string;
  address: string;
  role: string;
  sshKey: unknown;
}

export function defineStackTests(stack: string): void {
  describe(`stack ${stack} under mocks`, () => {
    const config = stackConfigMap(stack);
    const target = config[`${PROJECT}:target`] ?? "kind";
    const hosts: HostEntry[] = target === "hosts" ? JSON.parse(config[`${PROJECT}:hosts`]!) : [];
    const functions: string[] = config[`${PROJECT}:functions`] ? JSON.parse(config[`${PROJECT}:functions`]!) : [];
    const minio = config[`${PROJECT}:minio`] ? JSON.parse(config[`${PROJECT}:minio`]!).enabled === true : false;
    const openyurt = config[`${PROJECT}:openyurt`] ? JSON.parse(config[`${PROJECT}:openyurt`]!).enabled === true : false;
    let run: StackRun;
    beforeAll(async () => {
      run = await runStack(stack);
    }, 120_000);

    const byName = (name: string) => run.resources.find((r) => r.name === name);
    const joins = () =>
      target === "kind"
        ? run.resources.filter((r) => r.name.endsWith("-kubeadm-init")).map((r) => r.name)
        : run.resources.filter((r) => /-kubeadm-(init|join)$/.test(r.name)).map((r) => r.name);

    it("keeps the kubeconfig and the bootstrap token secret, and resolves them", async () => {
      expect(run.secret.kubeconfig).toBe(true);
      expect(run.secret.bootstrapToken).toBe(true);
      expect(run.outputs.kubeconfig).toContain("kind: Config");
      expect(run.outputs.bootstrapToken).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      if (target === "kind") expect(run.outputs.kubeconfig).toContain("server: https://127.0.0.1:");
    });

    it("gives every command a delete script, so destroy undoes it", async () => {
      const commands = run.resources.filter((r) => r.type === "vhive:index:HostCommand" || r.type === "vhive:index:LocalCommand");
      expect(commands.length).toBeGreaterThan(5);
      for (const c of commands) expect(String((await resolved(c.inputs.delete)) ?? "").trim(), `${c.name} delete`).not.toBe("");
    });

    it("applies every Kubernetes object through the cluster provider, after every node joined", () => {
      const all = joins();
      expect(all.length).toBe(target === "kind" ? 1 : hosts.length);
      const k8s = run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.type !== "pulumi:providers:kubernetes");
      expect(k8s.length).toBeGreaterThan(10);
      for (const r of k8s) {
        const deps = run.dependsOn(r.name);
        expect(deps.has("cluster"), `${r.name} uses the cluster provider`).toBe(true);
        for (const j of all) expect(deps.has(j), `${r.name} after ${j}`).toBe(true);
      }
    });

    it("creates functions only after Knative Serving is up", () => {
      const services = run.resources.filter((r) => r.type === "kubernetes:serving.knative.dev/v1:Service");
      if (functions.length > 0 && !openyurt) expect(services.length).toBeGreaterThanOrEqual(functions.length);
      for (const s of services) {
        const deps = run.dependsOn(s.name);
        expect(deps.has("addons-knative-serving-webhooks"), `${s.name} after Knative Serving`).toBe(true);
      }
    });

    if (target === "hosts") {
      it("bootstraps every host with its own graph of steps, hosts in parallel", () => {
        for (const host of hosts) {
          const steps = run.resources.filter(
            (r) => r.type === "vhive:index:HostCommand" && r.name.startsWith(`${host.name}-`) && byName(r.name)!.deps.includes("hosts"),
          );
          expect(steps.length, `${host.name} steps`).toBeGreaterThanOrEqual(8);
          const names = steps.map((s) => s.name);
          steps.forEach((step, i) => {
            // Registered after what it needs, and never waiting for another host.
            for (const d of step.deps) if (names.includes(d)) expect(names.indexOf(d), `${step.name} after ${d}`).toBeLessThan(i);
            for (const d of run.dependsOn(step.name))
              for (const other of hosts)
                if (other.name !== host.name) expect(d.startsWith(`${other.name}-`), `${step.name} must not wait for ${d}`).toBe(false);
          });
          // The last step (kubelet) waits for every other; packages go one after another (dpkg's
          // lock); steps that need nothing of each other do not wait for each other.
          const last = steps.at(-1)!.name;
          expect(last).toBe(`${host.name}-kubernetes`);
          for (const n of names.slice(0, -1)) expect(run.dependsOn(last).has(n), `${last} after ${n}`).toBe(true);
          expect(run.dependsOn(`${host.name}-containerd`).has(`${host.name}-packages`)).toBe(true);
          expect(run.dependsOn(`${host.name}-swap-off`).has(`${host.name}-packages`)).toBe(false);
          expect(run.dependsOn(`${host.name}-swap-off`).has(`${host.name}-limits`)).toBe(true);
          expect(run.dependsOn(`${host.name}-sysctl`).has(`${host.name}-swap-off`)).toBe(false);
        }
      });

      it("gives every remote command its host's address and a delete script", async () => {
        const remote = run.resources.filter((r) => r.type === "vhive:index:HostCommand");
        for (const r of remote) {
          const host = hosts.find((h) => r.name.startsWith(`${h.name}-`))!;
          expect(host, r.name).toBeDefined();
          const connection = (await resolved(r.inputs.connection)) as { host: string; hostKey?: string };
          expect(connection.host).toBe(host.address);
          expect(String(await resolved(r.inputs.delete)), `${r.name} delete`).toMatch(/^#!\/usr\/bin\/env bash\n/);
        }
      });

      it("initialises the control plane after its bootstrap and joins workers after it, in parallel", () => {
        const cp = hosts.find((h) => h.role === "control-plane")!;
        const init = `${cp.name}-kubeadm-init`;
        expect(run.dependsOn(init).has(`${cp.name}-kubernetes`)).toBe(true);
        for (const w of hosts.filter((h) => h.role === "worker")) {
          const join = `${w.name}-kubeadm-join`;
          const deps = run.dependsOn(join);
          expect(deps.has(init), `${join} after ${init}`).toBe(true);
          expect(deps.has(`${w.name}-node-runtime`), `${join} after the node runtime`).toBe(true);
          expect(deps.has(`${w.name}-kubernetes`), `${join} after the Kubernetes binaries`).toBe(true);
          const runtime = run.dependsOn(`${w.name}-node-runtime`);
          expect(runtime.has(`${w.name}-containerd`), "node runtime after containerd").toBe(true);
          expect(runtime.has(`${w.name}-kubernetes`), "node runtime does not wait for the Kubernetes binaries").toBe(false);
          for (const other of hosts.filter((h) => h.role === "worker" && h.name !== w.name))
            expect(deps.has(`${other.name}-kubeadm-join`), `${join} does not wait for ${other.name}`).toBe(false);
        }
      });

      it("keeps tokens and keys secret in command inputs", async () => {
        for (const r of run.resources.filter((x) => /-kubeadm-(init|join)$/.test(x.name)))
          expect(await isSecret(r.inputs.create), `${r.name} create carries the token`).toBe(true);
        for (const r of run.resources.filter((x) => x.type === "vhive:index:HostCommand")) {
          const host = hosts.find((h) => r.name.startsWith(`${h.name}-`))!;
          // The key inside the connection is a secret (and so is anything built from it).
          if (typeof host.sshKey === "object") expect(await isSecret(pulumi.output(r.inputs.connection)), `${r.name} connection`).toBe(true);
        }
      });
    }

    if (target === "kind")
      it("checks Docker, installs kind, starts the dev container, then runs every step inside it in order", async () => {
        const local = run.resources.filter((r) => r.type === "vhive:index:LocalCommand");
        const cluster = JSON.parse(config[`${PROJECT}:kind`] ?? "{}").clusterName ?? "vhive";
        expect(local.slice(0, 3).map((r) => r.name)).toEqual([`${cluster}-docker`, `${cluster}-kind`, `${cluster}-dev-container`]);
        local.forEach((r, i) => {
          if (i > 0) expect(r.deps, `${r.name} after ${local[i - 1]!.name}`).toContain(local[i - 1]!.name);
        });
        expect(local.at(-1)!.name).toBe(`${cluster}-kubeadm-init`);
        const container = local[2]!;
        expect(String(await resolved(container.inputs.delete))).toContain(`delete cluster --name '${cluster}'`);
        expect(String(await resolved(container.inputs.create))).toContain("--ipc=host");
        expect(String(await resolved(container.inputs.create))).toContain("--volume /dev:/dev");
        expect(await isSecret(byName(`${cluster}-kubeadm-init`)!.inputs.create)).toBe(true);
      });

    if (minio)
      it("runs MinIO after the joins with secret credentials", () => {
        expect(run.secret.minioAccessKey).toBe(true);
        expect(run.secret.minioSecretKey).toBe(true);
        for (const j of joins()) expect(run.dependsOn("minio").has(j)).toBe(true);
      });

    if (openyurt)
      it("installs OpenYurt after the joins and Knative, then yurthub on every host", () => {
        const deps = run.dependsOn("openyurt");
        for (const j of joins()) expect(deps.has(j), `openyurt after ${j}`).toBe(true);
        expect(deps.has("addons-knative-serving-webhooks")).toBe(true);
        for (const h of hosts) expect(run.dependsOn(`${h.name}-yurthub`).has("openyurt")).toBe(true);
      });
  });
}
