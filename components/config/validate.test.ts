import { describe, expect, it } from "vitest";
import { validateStackConfig, parseStackConfig, ConfigError } from "./validate.js";
import { ADDON_ARTIFACTS } from "./schema.js";
import { resolveArtifacts } from "../addons/releases.js";
import { FUNCTION_CATALOG } from "../functions/catalog.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1vZ2d1c3Rlc3RrZXlmb3J2aGl2ZXRlc3Rz";

function host(name: string, address: string, role: "control-plane" | "worker", extra: Record<string, unknown> = {}) {
  return { name, address, role, user: "vhive", sshKey: "agent", hostKey: KEY, ...extra };
}

const goodHosts = {
  target: "hosts",
  hosts: [host("cp", "192.0.2.10", "control-plane"), host("w1", "192.0.2.11", "worker"), host("w2", "192.0.2.12", "worker")],
  network: { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" },
};

describe("stack config validation", () => {
  it("accepts an empty config as the kind dev default, with every default filled in", () => {
    const config = parseStackConfig({});
    expect(config.target).toBe("kind");
    expect(config.sandbox).toBe("firecracker");
    expect(config.versions.kubernetes).toBe("1.35.3");
    expect(config.versions.containerd).toBe("2.2.3");
    expect(config.versions.runc).toBe("1.3.5");
    expect(config.versions.runsc).toBe("20260420.0");
    expect(config.versions.cni).toBe("1.7.1");
    expect(config.versions.calico).toBe("3.31.5");
    expect(config.versions.knative).toBe("1.21.2");
    expect(config.versions.istio).toBe("1.29.2");
    expect(config.versions.metallb).toBe("0.15.3");
    expect(config.versions.stargz).toBe("0.15.1");
    expect(config.versions.firecracker).toBe("1.13.1");
    expect(config.packages.source).toBe("release");
    expect(config.network.podCidr).toBe("10.168.0.0/16");
  });

  it("accepts a well-formed three-host config", () => {
    const result = validateStackConfig(goodHosts);
    expect(result).toMatchObject({ ok: true });
  });

  // Each row: a bad config and the exact lines it must produce (all of them, in order).
  const table: { name: string; config: unknown; problems: string[] }[] = [
    {
      name: "unknown top-level key and wrong enum",
      config: { sandbox: "kata", snapshot: "reap" },
      problems: ['sandbox: must be one of "firecracker", "gvisor", "containerd" (got "kata")', "snapshot: unknown setting (did you mean snapshots?)"],
    },
    {
      name: "bad host address among several hosts",
      config: { ...goodHosts, hosts: [goodHosts.hosts[0], goodHosts.hosts[1], host("w2", "not_an address", "worker")] },
      problems: ["hosts[2].address: must be an IPv4 address (four numbers 0-255, no leading zeros) or a host name"],
    },
    {
      name: "missing role and sshKey",
      config: { ...goodHosts, hosts: [goodHosts.hosts[0], { name: "w1", address: "192.0.2.11", hostKey: KEY }] },
      problems: [
        'hosts[1].sshKey: must be "agent", { secret: <config key> } or { file: <path to private key> } (value not shown)',
        'hosts[1].role: must be one of "control-plane", "worker"',
      ],
    },
    {
      name: "two control planes",
      config: { ...goodHosts, hosts: [goodHosts.hosts[0], host("w1", "192.0.2.11", "control-plane")] },
      problems: ['hosts: exactly one host must have role "control-plane" (found 2: cp, w1)'],
    },
    {
      name: "no control plane",
      config: { ...goodHosts, hosts: [host("w1", "192.0.2.11", "worker")] },
      problems: ['hosts: exactly one host must have role "control-plane" (found none)'],
    },
    {
      name: "duplicate names and addresses",
      config: { ...goodHosts, hosts: [goodHosts.hosts[0], host("cp", "192.0.2.10", "worker")] },
      problems: ['hosts[1].name: duplicate of hosts[0].name ("cp")', 'hosts[1].address: duplicate of hosts[0].address ("192.0.2.10:22")'],
    },
    {
      name: "unpinned host key without opt-in",
      config: { ...goodHosts, hosts: [{ ...goodHosts.hosts[0], hostKey: undefined }, goodHosts.hosts[1]] },
      problems: [
        "hosts[0].hostKey: required: pin the host's public key (ssh-keyscan -t ed25519 <address>), or set allowUnknownHostKey: true to accept any key",
      ],
    },
    {
      name: "malformed host key and port",
      config: { ...goodHosts, hosts: [{ ...goodHosts.hosts[0], hostKey: "AAAA", port: 70000 }, goodHosts.hosts[1]] },
      problems: [
        "hosts[0].port: must be 1-65535",
        'hosts[0].hostKey: must be a public key line like "ssh-ed25519 AAAA…" (as ssh-keyscan prints it, without the host)',
      ],
    },
    {
      name: "host name without node IP",
      config: {
        ...goodHosts,
        hosts: [goodHosts.hosts[0], host("w1", "worker-1.example.org", "worker")],
      },
      problems: ["hosts[1].nodeIp: required when address is a host name (the IP the node advertises to the cluster)"],
    },
    {
      name: "MetalLB pool inside the pod CIDR (vHive's old default)",
      config: { ...goodHosts, network: { hostCidr: "192.0.2.0/24", podCidr: "192.168.0.0/16", metallbPool: "192.168.1.240-192.168.1.250" } },
      problems: [
        "network.metallbPool: overlaps network.podCidr (192.168.1.240-192.168.1.250 and 192.168.0.0-192.168.255.255)",
        "network.metallbPool: must lie inside network.hostCidr (192.168.1.240-192.168.1.250 is not inside 192.0.2.0-192.0.2.255)",
      ],
    },
    {
      name: "service CIDR overlapping pod CIDR, pool containing a node",
      config: {
        ...goodHosts,
        network: { hostCidr: "192.0.2.0/24", podCidr: "10.0.0.0/8", serviceCidr: "10.96.0.0/12", metallbPool: "192.0.2.0/28" },
      },
      problems: [
        "network.serviceCidr: overlaps network.podCidr (10.96.0.0-10.111.255.255 and 10.0.0.0-10.255.255.255)",
        "network.metallbPool: contains the node IP of hosts[0] (192.0.2.10)",
        "network.metallbPool: contains the node IP of hosts[1] (192.0.2.11)",
        "network.metallbPool: contains the node IP of hosts[2] (192.0.2.12)",
      ],
    },
    {
      name: "malformed CIDR and missing host network",
      config: { ...goodHosts, network: { podCidr: "10.168.0.1/16" } },
      problems: [
        "network.podCidr: must be an IPv4 CIDR like 10.0.0.0/16 (network address, no host bits)",
        'network.hostCidr: required when target is "hosts" (the subnet the nodes\' IPs are on, e.g. 192.0.2.0/24)',
        'network.metallbPool: required when target is "hosts" (free addresses in network.hostCidr, e.g. 192.0.2.240-192.0.2.250)',
      ],
    },
    {
      name: "snapshots without firecracker",
      config: { sandbox: "gvisor", snapshots: "reap" },
      problems: ['snapshots: "reap" needs sandbox "firecracker" (it prefetches a microVM\'s guest memory); use "vanilla" or "off" with gvisor'],
    },
    {
      name: "too old Firecracker and bad checksum",
      config: { versions: { firecracker: "1.7.0" }, checksums: { runc: "md5:abc" } },
      problems: [
        'checksums.runc: must be "sha256:<64 hex digits>" or "sha512:<128 hex digits>"',
        'versions.firecracker: must be 1.13.1 or later (got "1.7.0")',
      ],
    },
    {
      name: "OpenYurt without pools",
      config: { ...goodHosts, openyurt: { enabled: true } },
      problems: [
        'hosts[0].pool: required when openyurt.enabled is true ("cloud" or "edge")',
        'hosts[1].pool: required when openyurt.enabled is true ("cloud" or "edge")',
        'hosts[2].pool: required when openyurt.enabled is true ("cloud" or "edge")',
        'openyurt.enabled: needs at least one host with pool "edge"',
      ],
    },
    {
      name: "OpenYurt on kind, hosts on kind",
      config: { target: "kind", hosts: [host("cp", "192.0.2.10", "control-plane")], openyurt: { enabled: true } },
      problems: [
        'hosts: must be empty when target is "kind" (the kind dev environment is one local node)',
        'hosts[0].pool: required when openyurt.enabled is true ("cloud" or "edge")',
        'openyurt.enabled: needs target "hosts" (OpenYurt pools span several machines)',
      ],
    },
    {
      name: "MinIO without node and credentials",
      config: { ...goodHosts, minio: { enabled: true, node: "w9" } },
      problems: [
        'minio.node: "w9" is not a host name (hosts: cp, w1, w2)',
        "minio.accessKey: required when minio.enabled is true ({ secret: <config key> })",
        "minio.secretKey: required when minio.enabled is true ({ secret: <config key> })",
      ],
    },
    {
      name: "wrong types and bad URLs",
      config: { estargz: "yes", aptProxy: "ftp://proxy", artifactMirror: "mirror", functions: ["Hello_World"] },
      problems: [
        'estargz: must be true or false (got "yes")',
        "functions[0]: must be a lowercase DNS label (a-z, 0-9 and '-', at most 63 characters)",
        "artifactMirror: must be an http:// or https:// URL",
        "aptProxy: must be an http:// or https:// URL",
      ],
    },
    {
      name: "function not in the catalog",
      config: { functions: ["helloworld", "nosuchfn"] },
      // The catalog belongs to the Functions component; the message lists whatever it holds.
      problems: [`functions[1]: unknown function "nosuchfn" (catalog: ${Object.keys(FUNCTION_CATALOG).join(", ")})`],
    },
    {
      name: "no hosts for target hosts",
      config: { target: "hosts", network: { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240/28" } },
      problems: ['hosts: at least one host is required when target is "hosts"'],
    },
  ];

  for (const row of table) {
    it(`rejects: ${row.name}`, () => {
      const result = validateStackConfig(row.config);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems).toEqual(row.problems);
    });
  }

  it("takes the in-cluster release files' checksums under the names the addons use", () => {
    const hex = "ab".repeat(32);
    const config = parseStackConfig({ checksums: { calico: `sha256:${hex}`, "knative-serving-core": hex } });
    expect(config.checksums.calico).toBe(hex);
    expect(config.checksums["knative-serving-core"]).toBe(hex);
    // Every name is one the addons know: their resolver rejects unknown checksum keys.
    expect(() => resolveArtifacts([], Object.fromEntries(ADDON_ARTIFACTS.map((k) => [k, hex])))).not.toThrow();
    expect(validateStackConfig({ checksums: { calico: "sha512:" + "ab".repeat(64) } })).toEqual({
      ok: false,
      problems: ['checksums.calico: must be "sha256:<64 hex digits>" (sha256 is what the in-cluster release files are checked with)'],
    });
  });

  it("checks that a referenced secret config key exists", () => {
    const config = { ...goodHosts, hosts: [{ ...goodHosts.hosts[0], sshKey: { secret: "sshKey" } }, goodHosts.hosts[1]] };
    const result = validateStackConfig(config, { configKeys: new Set(["hosts", "target"]) });
    expect(result).toEqual({
      ok: false,
      problems: ['hosts[0].sshKey: config key "sshKey" is not set (pulumi config set --secret sshKey < ~/.ssh/id_ed25519)'],
    });
  });

  it("throws one ConfigError listing every problem", () => {
    let caught: unknown;
    try {
      parseStackConfig({ sandbox: "kata", target: "hosts" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(
      "invalid stack configuration (4 problems):\n" +
        '  sandbox: must be one of "firecracker", "gvisor", "containerd" (got "kata")\n' +
        '  hosts: at least one host is required when target is "hosts"\n' +
        '  network.hostCidr: required when target is "hosts" (the subnet the nodes\' IPs are on, e.g. 192.0.2.0/24)\n' +
        '  network.metallbPool: required when target is "hosts" (free addresses in network.hostCidr, e.g. 192.0.2.240-192.0.2.250)',
    );
  });
});
