import { readFile } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { DEFAULT_RERECORD_THRESHOLD } from "../memory/working-set-policy.js";
import { parseByteSize } from "./byte-size.js";

export const DEFAULT_DATA_DIR = "/var/lib/vhive-node/runtime";
export const DEFAULT_API_SOCKET = "/run/vhive-node/orchestrator.sock";

const sandboxKind = z.enum(["firecracker", "gvisor", "containerd"]);
const byteSize = (field: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      return parseByteSize(v, field);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

/**
 * Node runtime settings: from a YAML/JSON file (`--config`), then command-line flags on top.
 * Everything has a default so `node-runtime serve` works on a prepared node with no file at all.
 */
export const runtimeConfigSchema = z
  .object({
    /** Sandbox used when a request names none. */
    sandbox: sandboxKind.default("gvisor"),
    /** Sandboxes to enable on this node; default: the default sandbox only. */
    sandboxes: z.array(sandboxKind).optional(),
    snapshotMode: z.enum(["off", "vanilla", "reap"]).default("vanilla"),
    /** Root of the runtime's state: snapshots, instance records, working sets, sandbox dirs. */
    dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
    /** Image store cache root; default `<dataDir>/../images` (the image store's own default). */
    imageDir: z.string().min(1).optional(),
    /** Disk budget for everything the runtime stores (snapshots, images, caches), e.g. "20GiB". */
    diskBudget: byteSize("diskBudget").default(20 * 1024 ** 3),
    /**
     * When snapshot files are hashed: "commit" (at commit and in a background pass after start-up;
     * loads compare size, inode and mtime only) or "every-load" (also before every load).
     */
    snapshotChecksums: z.enum(["commit", "every-load"]).default("commit"),
    /** gRPC API: a Unix socket path, or a TCP port on `host`. */
    socket: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    host: z.string().default("127.0.0.1"),
    /** Prometheus exposition over HTTP (`/metrics`, `/metrics.csv`), off when absent. */
    metricsPort: z.number().int().min(1).max(65535).optional(),
    /** gVisor driver: runsc root and per-instance bundles/sockets (keep short: socket paths ≤ 107 bytes). */
    gvisorBaseDir: z.string().min(1).default("/run/vhive-node/gvisor"),
    /**
     * gVisor driver: "none" (function reached through a host Unix socket) or "netns" (each sandbox in
     * a network namespace of its own on a /30 of `gvisorNetworkSubnet`, reached at its address).
     */
    gvisorNetwork: z.enum(["none", "netns"]).default("none"),
    gvisorNetworkSubnet: z.string().min(1).default("10.212.0.0/16"),
    /** Prefix of the gVisor namespaces (`<prefix>-ns-<n>`) and host links; unused ones are swept at start. */
    gvisorNetworkPrefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,6}$/, "1-7 characters of [a-z0-9], starting with a letter")
      .default("vhgv"),
    /** containerd driver: the daemon's socket and the namespace holding this node's containers. */
    containerdAddress: z.string().min(1).default("/run/containerd/containerd.sock"),
    containerdNamespace: z.string().min(1).default("vhive-node"),
    /** Firecracker driver: binary and uncompressed guest kernel (default FIRECRACKER_BIN / FIRECRACKER_KERNEL, else the provisioner's install paths). */
    firecrackerBin: z.string().min(1).optional(),
    firecrackerKernel: z.string().min(1).optional(),
    /**
     * Run every Firecracker VM under the jailer (chroot, its own uid/gid, the slot's namespace).
     * `bin` defaults to JAILER_BIN, else the provisioner's install path; uid/gid must not be root.
     */
    firecrackerJailer: z
      .object({
        bin: z.string().min(1).optional(),
        uid: z
          .number()
          .int()
          .min(1)
          .max(2 ** 32 - 2),
        gid: z
          .number()
          .int()
          .min(1)
          .max(2 ** 32 - 2),
        chrootBaseDir: z.string().min(1).default("/srv/jailer"),
      })
      .strict()
      .optional(),
    /** What a Firecracker snapshot holds: all guest memory (Full) or pages dirtied since the last one (Diff). */
    firecrackerSnapshotType: z.enum(["Full", "Diff"]).default("Full"),
    /** REAP: share of a load's faults outside the recorded working set above which the set is recorded anew. */
    reapRerecordThreshold: z.number().min(0).max(1).default(DEFAULT_RERECORD_THRESHOLD),
    /**
     * Registry credentials for pulls by the image store. Secrets stay in files: a Docker-style
     * config.json (`auths`), and/or per registry a user name and a file holding the password or
     * token. Neither the files' contents nor the passwords are logged or shown in errors.
     */
    registryAuthFile: z.string().min(1).optional(),
    registryCredentials: z
      .record(
        z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a registry host[:port]"),
        z.object({ username: z.string().min(1), passwordFile: z.string().min(1) }).strict(),
      )
      .optional(),
    /** Network slots built for Firecracker VMs, and the prefix of their namespaces and links. */
    networkPoolSize: z.number().int().min(1).max(1000).default(16),
    networkPrefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,7}$/)
      .default("vhnr"),
    /** Address blocks of those slots: clone IPs the host reaches VMs at, and the host–namespace links (default 10.210.0.0/16, 10.211.0.0/16). */
    networkCloneCidr: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "must be an IPv4 CIDR")
      .optional(),
    networkTransitCidr: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "must be an IPv4 CIDR")
      .optional(),
    /**
     * CRI front end (node-runtime/api/cri): served on this socket when set; every non-function call
     * goes to `criUpstream` (default: containerdAddress). Function relays of hostNetwork pods listen on
     * `criRelayHost`; those of pods on a CNI network on the node's address towards the pod.
     */
    criSocket: z.string().min(1).optional(),
    criUpstream: z.string().min(1).optional(),
    criRelayHost: z.string().min(1).default("127.0.0.1"),
    criStateFile: z.string().min(1).optional(),
    vcpus: z.number().int().min(1).default(1),
    memoryMiB: z.number().int().min(16).default(512),
    readyTimeoutMs: z.number().int().min(100).default(20_000),
    invokeTimeoutMs: z.number().int().min(100).default(10_000),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .strict();

export type RuntimeConfig = z.output<typeof runtimeConfigSchema>;
export type RuntimeConfigInput = z.input<typeof runtimeConfigSchema>;

/** Validates a config object; the error lists every problem with its field. */
export function parseRuntimeConfig(input: unknown, source = "config"): RuntimeConfig {
  const res = runtimeConfigSchema.safeParse(input ?? {});
  if (!res.success) {
    const problems = res.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`invalid ${source}:\n  ${problems.join("\n  ")}`);
  }
  const cfg = res.data;
  if (cfg.socket === undefined && cfg.port === undefined) cfg.socket = DEFAULT_API_SOCKET;
  cfg.dataDir = path.resolve(cfg.dataDir);
  return cfg;
}

/** Reads a YAML or JSON file and overlays `overrides` (command-line flags) before validating. */
export async function loadRuntimeConfig(file: string | undefined, overrides: Record<string, unknown> = {}): Promise<RuntimeConfig> {
  let base: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new Error(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    const parsed: unknown = YAML.parse(text);
    if (parsed !== null && (typeof parsed !== "object" || Array.isArray(parsed))) throw new Error(`config file ${file}: expected a mapping at the top level`);
    base = (parsed ?? {}) as Record<string, unknown>;
  }
  const merged = { ...base };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  return parseRuntimeConfig(merged, file ? `config (${file} + flags)` : "config flags");
}
