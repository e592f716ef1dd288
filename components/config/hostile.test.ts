// Hostile and careless stack values (issue 9): each must be refused with this exact message,
// before any step is generated from it.
import { describe, expect, it } from "vitest";
import { validateStackConfig } from "./validate.js";
import { loadStackConfig } from "../program/load-config.js";
import { ConfigError } from "./validate.js";
import { editDistance, closest } from "./suggest.js";
import { installPathProblem } from "./paths.js";
import { plainUrlProblem } from "./urls.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1vZ2d1c3Rlc3RrZXlmb3J2aGl2ZXRlc3Rz";
const PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";

function host(name: string, address: string, role: "control-plane" | "worker", extra: Record<string, unknown> = {}) {
  return { name, address, role, user: "vhive", sshKey: "agent", hostKey: KEY, ...extra };
}
const hosts = [host("cp", "192.0.2.10", "control-plane"), host("w1", "192.0.2.11", "worker"), host("w2", "192.0.2.12", "worker")];
const good = { target: "hosts", hosts, network: { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" } };
const withHost = (index: number, extra: Record<string, unknown>) => ({
  ...good,
  hosts: hosts.map((h, i) => (i === index ? { ...h, ...extra } : h)),
});
const SYSTEM = "is a system directory (or one the stack owns): use a directory of its own, e.g. /opt/vhive-<name>";
const PATH_CHARS = "may only contain letters, digits and . _ / + - (no spaces, quotes, newlines or other characters systemd or the shell would interpret)";
const URL_CHARS = "must be an http:// or https:// URL of letters, digits and . _ ~ % : @ + = , / - only (no spaces, quotes, newlines, query or fragment)";
const NO_CREDENTIALS =
  "must not contain credentials (user:password@): the URL is written into files and scripts on the hosts that are not secret; use a mirror or proxy that needs none, or restrict it by address";
const BAD_ADDRESS = "must be an IPv4 address (four numbers 0-255, no leading zeros) or a host name";

const table: { name: string; config: unknown; problems: string[] }[] = [
  // Install and data paths reach `remove_path`, systemd units and shell.
  ...["/", "/usr", "/etc", "/var", "/var/lib", "/opt", "/home", "/root", "/tmp", "/usr/local/bin", "/var/lib/kubelet"].map((dir) => ({
    name: `nodeRuntime.installDir ${dir}`,
    config: { nodeRuntime: { installDir: dir } },
    problems: [`nodeRuntime.installDir: ${dir} ${SYSTEM}`],
  })),
  {
    name: "installDir that normalises to a system directory",
    config: { nodeRuntime: { installDir: "/etc/../var" } },
    problems: [`nodeRuntime.installDir: normalises to /var, a system directory (or one the stack owns): use a directory of its own, e.g. /opt/vhive-<name>`],
  },
  {
    name: "installDir with .. that lands elsewhere",
    config: { nodeRuntime: { installDir: "/opt/a/../b" } },
    problems: ['nodeRuntime.installDir: must not contain "." or ".." segments (write /opt/b)'],
  },
  {
    name: "installDir with a trailing slash and double slashes",
    config: { nodeRuntime: { installDir: "/opt//vhive/" } },
    problems: ['nodeRuntime.installDir: must be written in normal form, without "//" or a trailing "/" (write /opt/vhive)'],
  },
  {
    name: "installDir with a newline (a second unit line)",
    config: { nodeRuntime: { installDir: "/opt/vhive\nExecStartPre=/bin/rm -rf /" } },
    problems: [`nodeRuntime.installDir: ${PATH_CHARS}`],
  },
  { name: "installDir with a space", config: { nodeRuntime: { installDir: "/opt/v hive" } }, problems: [`nodeRuntime.installDir: ${PATH_CHARS}`] },
  { name: "installDir with a specifier", config: { nodeRuntime: { installDir: "/opt/%h" } }, problems: [`nodeRuntime.installDir: ${PATH_CHARS}`] },
  {
    name: "installDir inside /proc",
    config: { nodeRuntime: { installDir: "/proc/self/x" } },
    problems: ["nodeRuntime.installDir: must not be inside /proc (a kernel or runtime file system)"],
  },
  {
    name: "installDir one level deep",
    config: { nodeRuntime: { installDir: "/data" } },
    problems: ["nodeRuntime.installDir: must be at least two levels deep (e.g. /opt/vhive-<name>), so it is a directory of its own"],
  },
  { name: "relative installDir", config: { nodeRuntime: { installDir: "opt/x" } }, problems: ["nodeRuntime.installDir: must be an absolute path"] },
  { name: "minio.path /", config: { minio: { path: "/" } }, problems: [`minio.path: / ${SYSTEM}`] },
  { name: "minio.path /etc", config: { minio: { path: "/etc" } }, problems: [`minio.path: /etc ${SYSTEM}`] },
  {
    name: "minio.storageSize 0Gi",
    config: { minio: { storageSize: "0Gi" } },
    problems: ['minio.storageSize: must be a size above zero like "20Gi" (Mi, Gi or Ti)'],
  },
  // aptProxy: the raw text is what is written.
  {
    name: "aptProxy with a newline and quotes (apt.conf injection)",
    config: { aptProxy: 'http://127.0.0.1:3142/";\nAcquire::https::Verify-Peer "false' },
    problems: [`aptProxy: ${URL_CHARS}`],
  },
  { name: "aptProxy with a trailing newline", config: { aptProxy: "http://127.0.0.1:3142\n" }, problems: [`aptProxy: ${URL_CHARS}`] },
  { name: "aptProxy with a space", config: { aptProxy: "http://proxy :3142" }, problems: [`aptProxy: ${URL_CHARS}`] },
  { name: "aptProxy with a query", config: { aptProxy: "http://proxy:3142/?a=$(id)" }, problems: [`aptProxy: ${URL_CHARS}`] },
  { name: "aptProxy with credentials", config: { aptProxy: "http://user:pw@proxy:3142" }, problems: [`aptProxy: ${NO_CREDENTIALS}`] },
  {
    name: "artifactMirror with credentials",
    config: { artifactMirror: "https://me:hunter22@mirror.example.org/files" },
    problems: [`artifactMirror: ${NO_CREDENTIALS}`],
  },
  // Secrets never echoed.
  {
    name: "SSH key pasted as { secret }",
    config: withHost(0, { sshKey: { secret: PRIVATE } }),
    problems: [
      "hosts[0].sshKey.secret: must name a config key, not hold the secret itself (value not shown): pulumi config set --secret <key> < <file>, then { secret: <key> }",
    ],
  },
  {
    name: "SSH key pasted as { file }",
    config: withHost(0, { sshKey: { file: PRIVATE } }),
    problems: ["hosts[0].sshKey.file: must be the path of a private key file, not the key itself (value not shown)"],
  },
  {
    name: "MinIO credentials given as plain values",
    config: { minio: { accessKey: "admin-user", secretKey: "s3cr3t-p4ss" } },
    problems: ["minio.accessKey: must be an object (got a string, not shown)", "minio.secretKey: must be an object (got a string, not shown)"],
  },
  // Namespaces and unknown keys.
  {
    name: "functions: [constructor]",
    config: { functions: ["constructor", "tostring"] },
    problems: [
      expect.stringMatching(/^functions\[0\]: unknown function "constructor"/) as unknown as string,
      expect.stringMatching(/^functions\[1\]: unknown function "tostring"/) as unknown as string,
    ],
  },
  {
    name: "unknown nested key",
    config: { nodeRuntime: { installdir: "/opt/x" } },
    problems: ["nodeRuntime.installdir: unknown setting (did you mean installDir?)"],
  },
  { name: "unknown host key", config: withHost(1, { nodeIP: "192.0.2.11" }), problems: ["hosts[1].nodeIP: unknown setting (did you mean nodeIp?)"] },
  { name: "unknown key, nothing close", config: { frobnicate: true }, problems: ["frobnicate: unknown setting"] },
  // Addresses.
  ...["999.999.999.999", "192.0.2", "192.0.2.010", "3221226058", "0xc0000201", "192.0.2.10.", "1.2.3.4.5"].map((address) => ({
    name: `address ${address}`,
    config: withHost(1, { address }),
    problems: [`hosts[1].address: ${BAD_ADDRESS}`],
  })),
  {
    name: "same host twice, spelled differently",
    config: {
      ...good,
      hosts: [
        hosts[0],
        host("w1", "Worker.Example.org", "worker", { nodeIp: "192.0.2.11" }),
        host("w2", "worker.example.org", "worker", { nodeIp: "192.0.2.12" }),
      ],
    },
    problems: ['hosts[2].address: duplicate of hosts[1].address ("worker.example.org:22")'],
  },
  {
    name: "nodeIp 0.0.0.0",
    config: withHost(1, { nodeIp: "0.0.0.0" }),
    problems: ["hosts[1].nodeIp: 0.0.0.0 is in the unspecified / this-network range 0.0.0.0/8: a node needs an address other hosts can reach"],
  },
  {
    name: "nodeIp loopback",
    config: withHost(1, { nodeIp: "127.0.0.1" }),
    problems: ["hosts[1].nodeIp: 127.0.0.1 is in loopback (127.0.0.0/8): a node needs an address other hosts can reach"],
  },
  {
    name: "nodeIp in the pod CIDR",
    config: withHost(1, { nodeIp: "10.168.3.4" }),
    problems: ["hosts[1].nodeIp: node IP 10.168.3.4 is inside network.podCidr (10.168.0.0-10.168.255.255)"],
  },
  {
    name: "nodeIp in the service CIDR",
    config: withHost(1, { nodeIp: "10.96.0.1" }),
    problems: ["hosts[1].nodeIp: node IP 10.96.0.1 is inside network.serviceCidr (10.96.0.0-10.111.255.255)"],
  },
  {
    name: "nodeIp another host's address",
    config: withHost(2, { nodeIp: "192.0.2.10" }),
    problems: ["hosts[2].nodeIp: node IP 192.0.2.10 is already the node IP of hosts[0]"],
  },
  {
    name: "two hosts behind one address without nodeIp",
    config: withHost(2, { address: "192.0.2.10", port: 2222 }),
    problems: ["hosts[2].address: node IP 192.0.2.10 is already the node IP of hosts[0] (set nodeIp to this host's own IP)"],
  },
  // CIDRs.
  {
    name: "pod CIDR /32",
    config: { ...good, network: { ...good.network, podCidr: "10.168.0.1/32" } },
    problems: ["network.podCidr: is a /32: must be a /24 or larger"],
  },
  {
    name: "service CIDR /25",
    config: { ...good, network: { ...good.network, serviceCidr: "10.96.0.0/25" } },
    problems: ["network.serviceCidr: is a /25: must be a /24 or larger"],
  },
  {
    name: "service CIDR wider than /12",
    config: { network: { serviceCidr: "10.0.0.0/8", podCidr: "172.16.0.0/16" } },
    problems: ["network.serviceCidr: must be a /12 or smaller (the Kubernetes API server refuses larger service ranges)"],
  },
  { name: "pod CIDR loopback", config: { network: { podCidr: "127.0.0.0/8" } }, problems: ["network.podCidr: overlaps loopback (127.0.0.0/8)"] },
  { name: "service CIDR multicast", config: { network: { serviceCidr: "224.0.0.0/16" } }, problems: ["network.serviceCidr: overlaps multicast (224.0.0.0/4)"] },
  {
    name: "pod CIDR with host bits",
    config: { network: { podCidr: "10.168.0.5/16" } },
    problems: ["network.podCidr: must be an IPv4 CIDR like 10.0.0.0/16 (network address, no host bits)"],
  },
  {
    name: "pod CIDR too small for the hosts",
    config: { ...good, network: { ...good.network, podCidr: "10.168.0.0/23" } },
    problems: ["network.podCidr: holds 2 node ranges of /24, but there are 3 hosts (each node gets a /24)"],
  },
  // Ports.
  ...[2379, 6443, 10250].map((port) => ({
    name: `healthPort ${port}`,
    config: { nodeRuntime: { healthPort: port } },
    problems: [
      expect.stringMatching(new RegExp(`^nodeRuntime\\.healthPort: ${port} is used by .*: pick a free port \\(default 10990\\)$`)) as unknown as string,
    ],
  })),
  { name: "healthPort privileged", config: { nodeRuntime: { healthPort: 80 } }, problems: ["nodeRuntime.healthPort: must be 1024-65535"] },
  { name: "healthPort 22 (SSH)", config: { nodeRuntime: { healthPort: 22 } }, problems: ["nodeRuntime.healthPort: must be 1024-65535"] },
  {
    name: "healthPort in the NodePort range",
    config: { nodeRuntime: { healthPort: 30080 } },
    problems: ["nodeRuntime.healthPort: must not be in Kubernetes' NodePort range 30000-32767"],
  },
];

describe("hostile stack values", () => {
  for (const row of table) {
    it(`refuses ${row.name}`, () => {
      const result = validateStackConfig(row.config);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems).toEqual(row.problems);
    });
  }

  it("never repeats a secret in any message", () => {
    const secret = "hunter22-canary";
    const configs = [
      withHost(0, { sshKey: { secret: `${PRIVATE}${secret}` } }),
      withHost(0, { sshKey: { file: `${PRIVATE}${secret}` } }),
      withHost(0, { sshKey: `${PRIVATE}${secret}` }),
      { minio: { enabled: true, secretKey: secret, accessKey: { secret } } },
      { minio: { secretKey: [secret] } },
      { artifactMirror: `https://u:${secret}@mirror.example.org` },
      { aptProxy: `http://u:${secret}@proxy:3142` },
    ];
    for (const config of configs) {
      const result = validateStackConfig(config);
      expect(result.ok).toBe(false);
      if (!result.ok) for (const line of result.problems) expect(line).not.toContain(secret);
    }
  });

  it("accepts ordinary paths, URLs and addresses", () => {
    expect(installPathProblem("/opt/vhive-node-runtime")).toBeUndefined();
    expect(installPathProblem("/var/lib/vhive-minio")).toBeUndefined();
    expect(installPathProblem("/srv/minio/data")).toBeUndefined();
    expect(plainUrlProblem("http://10.231.0.1:3142")).toBeUndefined();
    expect(plainUrlProblem("https://mirror.example.org/vhive/")).toBeUndefined();
    const result = validateStackConfig({
      ...good,
      aptProxy: "http://192.0.2.1:3142/",
      artifactMirror: "https://mirror.example.org/files",
      hosts: [hosts[0], host("w1", "worker-1.example.org", "worker", { nodeIp: "192.0.2.11" }), hosts[2]],
      nodeRuntime: { installDir: "/opt/vhive-rt", healthPort: 10995 },
      minio: { path: "/srv/vhive-minio", storageSize: "1Gi", retainData: true },
    });
    expect(result).toMatchObject({ ok: true });
  });

  it("suggests the nearest name", () => {
    expect(editDistance("vhve", "vhive")).toBe(1);
    expect(closest("snapshot", ["sandbox", "snapshots"])).toBe("snapshots");
    expect(closest("xyz", ["sandbox"])).toBeUndefined();
  });
});

describe("config namespaces", () => {
  const load = (all: Record<string, string>) => {
    try {
      loadStackConfig(all, "vhive");
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
  };

  it("refuses settings under another namespace instead of dropping them", () => {
    expect(load({ "vhve:sandbox": "gvisor", "Vhive:snapshots": "off", "vhive-pulumi:sandbox": "gvisor", "vhive:sandbx": "gvisor" })).toEqual([
      'vhve:sandbox: unknown namespace "vhve" (settings of this project are vhive:<setting>; did you mean vhive:sandbox?)',
      'Vhive:snapshots: unknown namespace "Vhive" (settings of this project are vhive:<setting>; did you mean vhive:snapshots?)',
      'vhive-pulumi:sandbox: unknown namespace "vhive-pulumi" (settings of this project are vhive:<setting>; did you mean vhive:sandbox?)',
      "sandbx: unknown setting (did you mean sandbox?)",
    ]);
  });

  it("keeps the providers' own namespaces", () => {
    expect(load({ "vhive:sandbox": "gvisor", "kubernetes:enableServerSideApply": "true", "pulumi:disable-default-providers": "[]" })).toEqual([]);
  });

  it("refuses a MinIO secret key shorter than MinIO accepts, naming the field", () => {
    const all = {
      "vhive:target": "hosts",
      "vhive:hosts": JSON.stringify(hosts),
      "vhive:network": JSON.stringify(good.network),
      "vhive:minio": JSON.stringify({ enabled: true, node: "w1", accessKey: { secret: "minioAccessKey" }, secretKey: { secret: "minioSecretKey" } }),
      "vhive:minioAccessKey": "admin",
      "vhive:minioSecretKey": "short7!",
    };
    expect(load(all)).toEqual(['minio.secretKey: the value of config key "minioSecretKey" is too short: MinIO needs at least 8 characters (value not shown)']);
    expect(load({ ...all, "vhive:minioSecretKey": "long-enough" })).toEqual([]);
  });
});
