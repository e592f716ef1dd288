import { beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../config/validate.js";
import { hostBootstrapSteps } from "./index.js";
import { checkShellBatch, type ShellCheckResult } from "../scripts/check-shell.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1vZ2d1c3Rlc3RrZXlmb3J2aGl2ZXRlc3Rz";
const hosts = {
  target: "hosts",
  hosts: [
    { name: "cp", address: "192.0.2.10", role: "control-plane", sshKey: "agent", hostKey: KEY },
    { name: "w1", address: "192.0.2.11", role: "worker", sshKey: "agent", hostKey: KEY },
  ],
  network: { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" },
};

// The variants cover every branch of the builders: each sandbox, both package sources,
// eStargz, the apt proxy and the artifact mirror.
const variants = {
  "firecracker-release": { ...hosts, sandbox: "firecracker", snapshots: "reap", estargz: true },
  "gvisor-debian-proxy": { ...hosts, sandbox: "gvisor", packages: { source: "debian" }, aptProxy: "http://192.0.2.1:3142" },
  "gvisor-release-mirror": { ...hosts, sandbox: "gvisor", artifactMirror: "https://mirror.example.org/artifacts" },
  "containerd-debian-keep": { ...hosts, sandbox: "containerd", packages: { source: "debian", keepOnDestroy: true } },
} as const;

// Every distinct script, keyed by a readable name; identical scripts are checked once.
const scripts = new Map<string, string>();
for (const [variant, raw] of Object.entries(variants)) {
  const config = parseStackConfig(raw);
  for (const role of ["control-plane", "worker"] as const) {
    for (const s of hostBootstrapSteps(config, { name: role, runsSandbox: role === "worker" })) {
      for (const kind of ["create", "delete"] as const) {
        if (![...scripts.values()].includes(s[kind])) scripts.set(`${variant} ${role} ${s.name} ${kind}`, s[kind]);
      }
    }
  }
}

describe("host bootstrap steps", () => {
  let results = new Map<string, ShellCheckResult>();
  beforeAll(() => {
    const names = [...scripts.keys()];
    const checked = checkShellBatch(names.map((n) => scripts.get(n)!));
    results = new Map(names.map((n, i) => [n, checked[i]!]));
  });

  for (const [name, script] of scripts) {
    it(`${name}: bash -n and shellcheck clean, ends with the status line, snapshot`, () => {
      expect(results.get(name)).toEqual({ syntax: "", shellcheck: "" });
      expect(script.trimEnd().split("\n").at(-1)).toBe(
        'if [ "$changed" -eq 1 ]; then echo "vhive-step $step: changed"; else echo "vhive-step $step: unchanged"; fi',
      );
      expect(script).toMatchSnapshot();
    });
  }

  it("orders steps per sandbox and role", () => {
    const names = (raw: object, runsSandbox: boolean) => hostBootstrapSteps(parseStackConfig(raw), { name: "n", runsSandbox }).map((s) => s.name);
    expect(names(variants["firecracker-release"], true)).toEqual([
      "limits",
      "apt-auto-upgrades-off",
      "packages",
      "swap-off",
      "kernel-modules",
      "sysctl",
      "stargz",
      "firecracker",
      "containerd",
      "kubernetes",
    ]);
    expect(names(variants["firecracker-release"], false)).not.toContain("firecracker");
    expect(names(variants["gvisor-release-mirror"], true)).toContain("runsc");
    expect(names(variants["gvisor-debian-proxy"], true)).toEqual([
      "limits",
      "apt-proxy",
      "apt-auto-upgrades-off",
      "packages",
      "swap-off",
      "kernel-modules",
      "sysctl",
      "containerd",
      "kubernetes",
    ]);
  });

  it("says what each step needs: apt steps one at a time, the rest alongside, limits first, kubernetes last", () => {
    for (const [variant, raw] of Object.entries(variants)) {
      for (const runsSandbox of [true, false]) {
        const config = parseStackConfig(raw);
        const steps = hostBootstrapSteps(config, { name: "n", runsSandbox });
        const needs = new Map(steps.map((s) => [s.name, new Set<string>()]));
        steps.forEach((s, i) => {
          for (const a of s.after ?? []) {
            // Listed before it, so the list order is one Pulumi may run them in.
            expect(
              steps.findIndex((x) => x.name === a),
              `${variant} ${s.name} after ${a}`,
            ).toBeLessThan(i);
            needs.get(s.name)!.add(a);
            for (const t of needs.get(a)!) needs.get(s.name)!.add(t);
          }
        });
        // Every step needs limits (its delete must run alone: see hostBootstrapSteps).
        for (const x of steps.slice(1)) expect(needs.get(x.name)!.has("limits"), `${variant} ${x.name} after limits`).toBe(true);
        const last = steps.at(-1)!;
        expect(last.name).toBe("kubernetes");
        expect([...needs.get(last.name)!].sort(), variant).toEqual(
          steps
            .slice(0, -1)
            .map((s) => s.name)
            .sort(),
        );
        // Every two steps that run apt (dpkg's lock) are ordered one way or the other.
        const apt = steps.filter((s) => /^\s*(apt_install|apt_update_if_stale) \S/m.test(s.create)).map((s) => s.name);
        expect(apt, variant).toContain("packages");
        for (const a of apt) for (const b of apt) if (a < b) expect(needs.get(a)!.has(b) || needs.get(b)!.has(a), `${variant}: ${a} and ${b}`).toBe(true);
      }
    }
    const gvisor = hostBootstrapSteps(parseStackConfig(variants["gvisor-debian-proxy"]), { name: "n", runsSandbox: true });
    const after = Object.fromEntries(gvisor.map((s) => [s.name, s.after]));
    expect(after).toEqual({
      limits: [],
      "apt-proxy": ["limits"],
      "apt-auto-upgrades-off": ["limits"],
      packages: ["apt-proxy", "apt-auto-upgrades-off"],
      "swap-off": ["limits"],
      "kernel-modules": ["packages"],
      sysctl: ["kernel-modules"],
      containerd: ["packages"],
      kubernetes: ["swap-off", "sysctl", "containerd"],
    });
  });

  it("installs every Debian package of a host in one apt transaction, in the packages step", () => {
    const installs = (raw: object, runsSandbox: boolean) =>
      hostBootstrapSteps(parseStackConfig(raw), { name: "n", runsSandbox }).flatMap((s) =>
        [...s.create.matchAll(/^\s*apt_install (\S+) (.+)$/gm)].map((m) => `${s.name}: ${m[2]}`),
      );
    const base = "curl ca-certificates tar gzip iptables iproute2 conntrack socat ethtool kmod procps openssl";
    expect(installs(variants["gvisor-debian-proxy"], true)).toEqual([
      `packages: ${base} gcc libc6-dev runsc containerd runc containernetworking-plugins nodejs`,
    ]);
    expect(installs(variants["gvisor-debian-proxy"], false)).toEqual([`packages: ${base} containerd runc containernetworking-plugins`]);
    expect(installs(variants["firecracker-release"], true)).toEqual([`packages: ${base} gcc libc6-dev`]);
    expect(installs(variants["firecracker-release"], false)).toEqual([`packages: ${base}`]);
    expect(installs({ ...variants["firecracker-release"], packages: { source: "debian" } }, true)).toEqual([
      `packages: ${base} gcc libc6-dev containerd runc containernetworking-plugins nodejs libnode-dev`,
    ]);
    expect(installs(variants["containerd-debian-keep"], true)).toEqual([`packages: ${base} containerd runc containernetworking-plugins nodejs`]);
  });

  it("downloads through the mirror with the pinned checksum, and stops clearly without one", () => {
    const config = parseStackConfig(variants["gvisor-release-mirror"]);
    const steps = hostBootstrapSteps(config, { name: "w", runsSandbox: true });
    expect(steps.find((s) => s.name === "containerd")!.create).toContain(
      "fetch_verified 'https://mirror.example.org/artifacts/github.com/containerd/containerd/releases/download/v2.2.3/containerd-2.2.3-linux-amd64.tar.gz' 'sha256:ca26ef5138f17b847bbeeec36d4bf5e002b54d25858197a870c125d57f44d32f'",
    );
    expect(steps.find((s) => s.name === "kubernetes")!.create).toContain(
      `missing_checksum 'checksums.kubeadm: kubeadm 1.35.3 has no checksum in the stack, the built-in table or the checksum lock yet; pulumi up reads upstream'\\''s checksum file (or, where upstream publishes none, hashes the first download) and records it in the lock'`,
    );
  });
});
