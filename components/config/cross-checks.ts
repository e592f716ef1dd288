// Rules that relate several settings. They run on whatever parts of the raw config are well
// formed, so a malformed field elsewhere never hides one of these problems.
import { DEFAULT_VERSIONS } from "./artifacts.js";
import { formatIpv4, isIpv4, overlaps, contains, containsAddress, parseCidr, parseIpv4, parsePool, type Ipv4Range } from "./ipv4.js";
import { HostSchema, MinioSchema, OpenYurtSchema, isHostName, looksLikeSecretValue, type HostConfig } from "./schema.js";
import { FUNCTION_CATALOG } from "../functions/catalog.js";

export interface Problem {
  readonly path: string;
  readonly message: string;
}

type Raw = Record<string, unknown>;

function asRecord(value: unknown): Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Raw) : {};
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[-+]/)[0]!.split(".").map(Number);
  const pb = b.split(/[-+]/)[0]!.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function rangeText(r: Ipv4Range): string {
  return `${formatIpv4(r.first)}-${formatIpv4(r.last)}`;
}

export interface CrossCheckContext {
  /**
   * Config keys present in the stack (without the project prefix), to check secret references;
   * with `valueLength`, the length of a secret's value can be checked without printing it.
   */
  readonly configKeys?: ReadonlySet<string> & { valueLength?(key: string): number | undefined };
}

/** MinIO refuses to start with a shorter secret key (and an access key under 3 characters). */
export const MINIO_MIN_LENGTH = { accessKey: 3, secretKey: 8 } as const;

/** Addresses that can never be a node's IP: this-network, loopback, link-local, multicast, reserved. */
const SPECIAL_RANGES: readonly { range: Ipv4Range; what: string }[] = [
  { range: parseCidr("0.0.0.0/8")!, what: "the unspecified / this-network range 0.0.0.0/8" },
  { range: parseCidr("127.0.0.0/8")!, what: "loopback (127.0.0.0/8)" },
  { range: parseCidr("169.254.0.0/16")!, what: "link-local (169.254.0.0/16)" },
  { range: parseCidr("224.0.0.0/4")!, what: "multicast (224.0.0.0/4)" },
  { range: parseCidr("240.0.0.0/4")!, what: "reserved (240.0.0.0/4, including the broadcast address)" },
];

/**
 * The longest prefix a pod or service CIDR may have. Kubernetes gives every node a /24 of the
 * pod CIDR (kube-controller-manager's default node mask), so the pod CIDR needs at least a /24
 * per host; the service CIDR needs room for the API server's, DNS's and the add-ons' services.
 * The API server refuses service CIDRs wider than /12.
 */
export const MAX_CLUSTER_PREFIX = 24;
export const MIN_SERVICE_PREFIX = 12;
const NODE_POD_PREFIX = 24;

export function crossCheck(raw: Raw, context: CrossCheckContext = {}): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });

  const target = raw.target === "hosts" || raw.target === "playground" ? raw.target : raw.target === undefined || raw.target === "kind" ? "kind" : undefined;
  const rawHosts = Array.isArray(raw.hosts) ? raw.hosts : [];
  // Hosts that parse, with their index in the list, take part in the rules below.
  const hosts: { index: number; host: HostConfig }[] = [];
  rawHosts.forEach((entry, index) => {
    const parsed = HostSchema.safeParse(entry);
    if (parsed.success) hosts.push({ index, host: parsed.data });
  });

  const rawList = rawHosts.map(asRecord);
  const openyurt = OpenYurtSchema.safeParse(raw.openyurt ?? {});
  const openyurtOn = openyurt.success && openyurt.data.enabled;

  const kubernetes = raw.kubernetes !== false;
  if (!kubernetes) {
    // Node-runtime-only hosts: no cluster, so nothing that lives in one.
    if (target === "kind") add("kubernetes", 'false needs target "hosts" or "playground" (the kind dev environment is a Kubernetes node)');
    rawList.forEach((h, index) => {
      if (h.role === "control-plane") add(`hosts[${index}].role`, 'must be "worker" when kubernetes is false (there is no control plane)');
    });
    if (Array.isArray(raw.functions) && raw.functions.length > 0) add("functions", "must be empty when kubernetes is false (functions are Knative Services)");
    if (asRecord(raw.minio).enabled === true) add("minio.enabled", "needs Kubernetes (kubernetes is false)");
    if (openyurtOn) add("openyurt.enabled", "needs Kubernetes (kubernetes is false)");
  }
  if (target === "hosts") {
    if (rawHosts.length === 0) add("hosts", 'at least one host is required when target is "hosts"');
    else if (kubernetes && rawList.every((h) => h.role === "control-plane" || h.role === "worker")) {
      // Counted on the raw entries, so a malformed field elsewhere in a host does not hide this.
      const planes = rawList.filter((h) => h.role === "control-plane");
      if (planes.length === 0) add("hosts", 'exactly one host must have role "control-plane" (found none)');
      if (planes.length > 1)
        add("hosts", `exactly one host must have role "control-plane" (found ${planes.length}: ${planes.map((h) => String(h.name)).join(", ")})`);
    }
  }
  if (target === "playground") {
    if (kubernetes) add("kubernetes", 'must be false with target "playground" (its hosts run the node runtime without Kubernetes)');
    if (rawHosts.length > 0) add("hosts", 'must be empty with target "playground" (it creates its own hosts; see playground.hosts)');
  }
  if (target === "kind" && rawHosts.length > 0) add("hosts", 'must be empty when target is "kind" (the kind dev environment is one local node)');

  // Uniqueness: names, SSH endpoints and node IPs.
  const seen = new Map<string, number>();
  const unique = (kind: string, field: string, value: string, index: number): boolean => {
    const key = `${kind}\u0000${value}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else add(`hosts[${index}].${field}`, `duplicate of hosts[${first}].${field} (${JSON.stringify(value)})`);
    return first === undefined;
  };
  // Compared in canonical form: IPv4 addresses as numbers, host names case-insensitively
  // without a trailing dot, so two spellings of one machine are caught.
  const canonical = (address: string) => {
    const ip = parseIpv4(address);
    return ip !== undefined ? formatIpv4(ip) : address.toLowerCase().replace(/\.$/, "");
  };
  const nodeIps = new Map<number, { index: number; field: string }>();
  for (const { index, host } of hosts) {
    unique("name", "name", host.name, index);
    const endpointUnique = unique("endpoint", "address", `${canonical(host.address)}:${host.port}`, index);
    // The IP each node advertises (nodeIp, else an IPv4 address) must be its own.
    const field = host.nodeIp !== undefined ? "nodeIp" : "address";
    const ip = parseIpv4(host.nodeIp ?? host.address);
    if (ip === undefined) continue;
    const first = nodeIps.get(ip);
    if (first === undefined) nodeIps.set(ip, { index, field });
    else if (endpointUnique)
      add(
        `hosts[${index}].${field}`,
        `node IP ${formatIpv4(ip)} is already the node IP of hosts[${first.index}]${field === "address" ? " (set nodeIp to this host's own IP)" : ""}`,
      );
  }

  // Per-host rules on the raw entries: each needs only its own fields to be usable.
  rawList.forEach((host, index) => {
    if (host.hostKey === undefined && host.allowUnknownHostKey !== true)
      add(
        `hosts[${index}].hostKey`,
        "required: pin the host's public key (ssh-keyscan -t ed25519 <address>), or set allowUnknownHostKey: true to accept any key",
      );
    if (typeof host.address === "string" && host.nodeIp === undefined && !isIpv4(host.address) && isHostName(host.address))
      add(`hosts[${index}].nodeIp`, "required when address is a host name (the IP the node advertises to the cluster)");
    const key = asRecord(host.sshKey);
    if (typeof key.secret === "string" && !looksLikeSecretValue(key.secret) && context.configKeys && !context.configKeys.has(key.secret))
      add(`hosts[${index}].sshKey`, `config key "${key.secret}" is not set (pulumi config set --secret ${key.secret} < ~/.ssh/id_ed25519)`);
    if (openyurtOn && host.pool === undefined) add(`hosts[${index}].pool`, 'required when openyurt.enabled is true ("cloud" or "edge")');
    if (openyurtOn && host.role === "control-plane" && host.pool === "edge") add(`hosts[${index}].pool`, 'the control plane must be in the "cloud" pool');
  });
  if (openyurtOn && target === "kind") add("openyurt.enabled", 'needs target "hosts" (OpenYurt pools span several machines)');
  else if (openyurtOn && hosts.length === rawHosts.length && rawHosts.length > 0 && !hosts.some((h) => h.host.pool === "edge"))
    add("openyurt.enabled", 'needs at least one host with pool "edge"');

  // Sandbox and snapshot mode.
  const sandbox = raw.sandbox ?? "firecracker";
  // The node runtime checkpoints microVMs and gVisor sandboxes; REAP prefetches a microVM's memory.
  if (raw.snapshots === "reap" && (sandbox === "gvisor" || sandbox === "containerd"))
    add("snapshots", `"reap" needs sandbox "firecracker" (it prefetches a microVM's guest memory); use "vanilla" or "off" with ${sandbox}`);
  if (raw.snapshots === "vanilla" && sandbox === "containerd")
    add("snapshots", '"vanilla" needs sandbox "firecracker" or "gvisor" (plain containers are not snapshotted); use "off" with containerd');

  const versions = asRecord(raw.versions);
  const fc = typeof versions.firecracker === "string" ? versions.firecracker : DEFAULT_VERSIONS.firecracker;
  if (/^[0-9]+(\.[0-9]+)*/.test(fc) && compareVersions(fc, "1.13.1") < 0) add("versions.firecracker", `must be 1.13.1 or later (got "${fc}")`);

  // Network: pod CIDR, service CIDR, host subnet and MetalLB pool.
  const rawNetwork = asRecord(raw.network);
  const text = (key: string, fallback?: string) => (typeof rawNetwork[key] === "string" ? (rawNetwork[key] as string) : fallback);
  const pod = parseCidr(text("podCidr", "10.168.0.0/16")!);
  const service = parseCidr(text("serviceCidr", "10.96.0.0/12")!);
  const hostNet = text("hostCidr") !== undefined ? parseCidr(text("hostCidr")!) : target === "kind" ? parseCidr("172.17.0.0/16") : undefined;
  const poolText = text("metallbPool") ?? (target === "kind" ? "172.17.255.200-172.17.255.250" : undefined);
  const pool = poolText !== undefined ? parsePool(poolText) : undefined;

  if (target === "hosts" && rawNetwork.hostCidr === undefined)
    add("network.hostCidr", 'required when target is "hosts" (the subnet the nodes\' IPs are on, e.g. 192.0.2.0/24)');
  if (target === "hosts" && kubernetes && rawNetwork.metallbPool === undefined)
    add("network.metallbPool", 'required when target is "hosts" (free addresses in network.hostCidr, e.g. 192.0.2.240-192.0.2.250)');
  // Pod and service CIDRs: large enough, and not ranges the kernel treats specially.
  const clusterRanges: { field: string; range: Ipv4Range | undefined }[] = [
    { field: "network.podCidr", range: pod },
    { field: "network.serviceCidr", range: service },
  ];
  for (const { field, range } of clusterRanges) {
    if (range === undefined) continue;
    const prefix = 32 - Math.log2(range.last - range.first + 1);
    if (prefix > MAX_CLUSTER_PREFIX) add(field, `is a /${prefix}: must be a /${MAX_CLUSTER_PREFIX} or larger`);
    const special = SPECIAL_RANGES.find((s) => overlaps(s.range, range));
    if (special) add(field, `overlaps ${special.what}`);
  }
  if (service && 32 - Math.log2(service.last - service.first + 1) < MIN_SERVICE_PREFIX)
    add("network.serviceCidr", `must be a /${MIN_SERVICE_PREFIX} or smaller (the Kubernetes API server refuses larger service ranges)`);
  if (pod && target === "hosts" && rawHosts.length > 0) {
    const perNode = 2 ** (32 - NODE_POD_PREFIX);
    const fits = Math.floor((pod.last - pod.first + 1) / perNode);
    if (fits < rawHosts.length && 32 - Math.log2(pod.last - pod.first + 1) <= MAX_CLUSTER_PREFIX)
      add(
        "network.podCidr",
        `holds ${fits} node range${fits === 1 ? "" : "s"} of /${NODE_POD_PREFIX}, but there are ${rawHosts.length} hosts (each node gets a /${NODE_POD_PREFIX})`,
      );
  }

  // Each node's IP: an ordinary unicast address outside the cluster's own ranges.
  for (const { index, host } of hosts) {
    const field = host.nodeIp !== undefined ? "nodeIp" : "address";
    const ip = parseIpv4(host.nodeIp ?? host.address);
    if (ip === undefined) continue;
    const special = SPECIAL_RANGES.find((s) => containsAddress(s.range, ip));
    if (special) add(`hosts[${index}].${field}`, `${formatIpv4(ip)} is in ${special.what}: a node needs an address other hosts can reach`);
    if (pod && containsAddress(pod, ip)) add(`hosts[${index}].${field}`, `node IP ${formatIpv4(ip)} is inside network.podCidr (${rangeText(pod)})`);
    if (service && containsAddress(service, ip))
      add(`hosts[${index}].${field}`, `node IP ${formatIpv4(ip)} is inside network.serviceCidr (${rangeText(service)})`);
  }

  if (pod && service && overlaps(pod, service)) add("network.serviceCidr", `overlaps network.podCidr (${rangeText(service)} and ${rangeText(pod)})`);
  if (hostNet && pod && overlaps(hostNet, pod)) add("network.podCidr", `overlaps network.hostCidr (${rangeText(pod)} and ${rangeText(hostNet)})`);
  if (hostNet && service && overlaps(hostNet, service))
    add("network.serviceCidr", `overlaps network.hostCidr (${rangeText(service)} and ${rangeText(hostNet)})`);
  if (pool) {
    if (pod && overlaps(pool, pod)) add("network.metallbPool", `overlaps network.podCidr (${rangeText(pool)} and ${rangeText(pod)})`);
    if (service && overlaps(pool, service)) add("network.metallbPool", `overlaps network.serviceCidr (${rangeText(pool)} and ${rangeText(service)})`);
    if (hostNet && !contains(hostNet, pool))
      add("network.metallbPool", `must lie inside network.hostCidr (${rangeText(pool)} is not inside ${rangeText(hostNet)})`);
    for (const { index, host } of hosts) {
      const ip = parseIpv4(host.nodeIp ?? host.address);
      if (ip !== undefined && containsAddress(pool, ip)) add("network.metallbPool", `contains the node IP of hosts[${index}] (${formatIpv4(ip)})`);
    }
  }

  // Functions come from the catalog the Functions component deploys from.
  if (Array.isArray(raw.functions))
    raw.functions.forEach((name, index) => {
      // An own-property test: `in` would accept names inherited from Object (constructor, …).
      if (typeof name === "string" && /^[a-z0-9-]+$/.test(name) && !Object.hasOwn(FUNCTION_CATALOG, name))
        add(`functions[${index}]`, `unknown function "${name}" (catalog: ${Object.keys(FUNCTION_CATALOG).join(", ")})`);
    });

  // MinIO.
  const minio = MinioSchema.safeParse(raw.minio ?? {});
  if (minio.success && minio.data.enabled) {
    const names = hosts.map((h) => h.host.name);
    if (!minio.data.node && target === "hosts") add("minio.node", "required when minio.enabled is true (the host whose disk holds the data)");
    if (minio.data.node && target === "hosts" && hosts.length === rawHosts.length && !names.includes(minio.data.node))
      add("minio.node", `${JSON.stringify(minio.data.node)} is not a host name (hosts: ${names.join(", ")})`);
    for (const field of ["accessKey", "secretKey"] as const) {
      const ref = minio.data[field];
      if (!ref) add(`minio.${field}`, `required when minio.enabled is true ({ secret: <config key> })`);
      else if (context.configKeys && !context.configKeys.has(ref.secret))
        add(`minio.${field}`, `config key "${ref.secret}" is not set (pulumi config set --secret ${ref.secret} <value>)`);
      else {
        const length = context.configKeys?.valueLength?.(ref.secret);
        if (length !== undefined && length < MINIO_MIN_LENGTH[field])
          add(
            `minio.${field}`,
            `the value of config key "${ref.secret}" is too short: MinIO needs at least ${MINIO_MIN_LENGTH[field]} characters (value not shown)`,
          );
      }
    }
  }

  return problems;
}
