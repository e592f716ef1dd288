import type { NetworkPool, NetworkSlot } from "./types.js";
import { planSlots, slotIpCommands, slotNatRules, type NetworkPoolLayout, type SlotPlan } from "./slot-plan.js";
import { runTool } from "./run-tool.js";
import { parseCidr, parseRouteDestination, rangesOverlap } from "./ipv4.js";

export interface NamespaceNetworkPoolOptions extends NetworkPoolLayout {
  /** Number of slots built up front. */
  size: number;
  /** How long `acquire()` waits for a released slot when all are taken. Default 10 s; 0 fails at once. */
  acquireTimeoutMs?: number;
  /**
   * Also let other hosts reach clone IPs: adds an iptables chain `<PREFIX>-FWD` (upper-cased prefix)
   * accepting forwarded traffic of the pool's host links. Needs net.ipv4.ip_forward=1, which the
   * pool does not change. Default false: the clone IPs are then reachable from this host only.
   */
  hostForwarding?: boolean;
  /** Delete namespaces left over from an earlier pool with the same prefix. Default false (fail instead). */
  reclaimStale?: boolean;
}

/**
 * vHive's network layout: one namespace per slot holding a tap with the same name, guest IP and MAC,
 * joined to the host by a veth pair; the namespace NATs a unique clone IP to the guest IP. Slots
 * are built once and recycled on release.
 */
export class NamespaceNetworkPool implements NetworkPool {
  private readonly free: SlotPlan[];
  private readonly inUse = new Map<number, SlotPlan>();
  private readonly waiters: ((p: SlotPlan | Error) => void)[] = [];
  private destroyed = false;

  private constructor(
    private readonly opts: NamespaceNetworkPoolOptions,
    private readonly plans: SlotPlan[],
  ) {
    this.free = [...plans];
  }

  /** Builds every slot; on failure removes whatever it built and rethrows. */
  static async create(opts: NamespaceNetworkPoolOptions): Promise<NamespaceNetworkPool> {
    const plans = planSlots(opts, opts.size);
    const existing = await listNamespaces();
    const stale = plans.filter((p) => existing.has(p.slot.netns)).map((p) => p.slot.netns);
    if (stale.length > 0) {
      if (opts.reclaimStale !== true) throw new Error(`network namespaces already exist: ${stale.join(", ")} (set reclaimStale to delete them)`);
      await removeSlots(plans, opts);
    }
    await checkNoRouteOverlap(opts, plans);
    const pool = new NamespaceNetworkPool(opts, plans);
    try {
      for (const p of plans) await buildSlot(p);
      if (opts.hostForwarding === true) await addForwardChain(opts.namePrefix);
    } catch (e) {
      await removeSlots(plans, opts);
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.plans.length;
  }

  get available(): number {
    return this.free.length;
  }

  async acquire(): Promise<NetworkSlot> {
    if (this.destroyed) throw new Error("network pool is destroyed");
    const plan = this.free.shift() ?? (await this.waitForSlot());
    this.inUse.set(plan.slot.index, plan);
    return { ...plan.slot };
  }

  /** Returns a slot: forgets the old guest's neighbour entry and makes sure the tap is up. */
  async release(slot: NetworkSlot): Promise<void> {
    const plan = this.inUse.get(slot.index);
    if (plan === undefined || plan.slot.netns !== slot.netns) throw new Error(`slot ${slot.index} (${slot.netns}) is not in use in this pool`);
    this.inUse.delete(slot.index);
    try {
      await runTool("ip", ["-n", plan.slot.netns, "neigh", "flush", "dev", plan.slot.tapName]);
      await runTool("ip", ["-n", plan.slot.netns, "link", "set", plan.slot.tapName, "up"]);
    } catch (e) {
      // The slot is damaged (tap gone?): rebuild it rather than hand it out broken.
      await removeSlots([plan], this.opts, false);
      await buildSlot(plan).catch((again: unknown) => {
        throw new Error(`slot ${slot.index} could not be recycled (${(e as Error).message}) nor rebuilt (${String(again)})`);
      });
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(plan);
    else this.free.push(plan);
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    for (const w of this.waiters.splice(0)) w(new Error("network pool destroyed while waiting for a slot"));
    await removeSlots(this.plans, this.opts);
    this.free.length = 0;
    this.inUse.clear();
  }

  private waitForSlot(): Promise<SlotPlan> {
    const timeoutMs = this.opts.acquireTimeoutMs ?? 10_000;
    if (timeoutMs <= 0) return Promise.reject(new Error(`network pool exhausted: all ${this.plans.length} slots are in use`));
    return new Promise<SlotPlan>((resolve, reject) => {
      const waiter = (p: SlotPlan | Error): void => {
        clearTimeout(timer);
        if (p instanceof Error) reject(p);
        else resolve(p);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`network pool exhausted: no slot of ${this.plans.length} freed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

async function buildSlot(p: SlotPlan): Promise<void> {
  for (const args of slotIpCommands(p)) await runTool("ip", args);
  await runTool("ip", ["netns", "exec", p.slot.netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  await runTool("ip", ["netns", "exec", p.slot.netns, "iptables-restore"], slotNatRules(p));
}

/** Deleting a namespace takes its tap, its NAT rules and both veth ends (hence the host route) with it. */
async function removeSlots(plans: SlotPlan[], opts: NamespaceNetworkPoolOptions, withChain = true): Promise<void> {
  const existing = await listNamespaces();
  const errors: string[] = [];
  for (const p of plans) {
    if (existing.has(p.slot.netns)) await runTool("ip", ["netns", "del", p.slot.netns]).catch((e: Error) => errors.push(e.message));
    // A host link survives only if the namespace was never created; remove it then too.
    await runTool("ip", ["link", "del", p.hostLink]).catch(() => undefined);
  }
  if (withChain && opts.hostForwarding === true) await removeForwardChain(opts.namePrefix).catch((e: Error) => errors.push(e.message));
  if (errors.length > 0) throw new Error(`network pool cleanup incomplete: ${errors.join("; ")}`);
}

function chainName(prefix: string): string {
  return `${prefix.toUpperCase()}-FWD`;
}

async function addForwardChain(prefix: string): Promise<void> {
  const chain = chainName(prefix);
  await runTool("iptables", ["-w", "-N", chain]);
  await runTool("iptables", ["-w", "-A", chain, "-i", `${prefix}h+`, "-j", "ACCEPT"]);
  await runTool("iptables", ["-w", "-A", chain, "-o", `${prefix}h+`, "-j", "ACCEPT"]);
  await runTool("iptables", ["-w", "-I", "FORWARD", "-j", chain]);
}

async function removeForwardChain(prefix: string): Promise<void> {
  const chain = chainName(prefix);
  const rules = await runTool("iptables", ["-w", "-S", "FORWARD"]);
  for (const line of rules.split("\n")) {
    if (line.trim() === `-A FORWARD -j ${chain}`) await runTool("iptables", ["-w", "-D", "FORWARD", "-j", chain]);
  }
  const chains = await runTool("iptables", ["-w", "-S"]);
  if (chains.split("\n").some((l) => l.trim() === `-N ${chain}`)) {
    await runTool("iptables", ["-w", "-F", chain]);
    await runTool("iptables", ["-w", "-X", chain]);
  }
}

async function listNamespaces(): Promise<Set<string>> {
  const out = await runTool("ip", ["netns", "list"]);
  return new Set(
    out
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => n.length > 0),
  );
}

/** Clone and transit ranges must be unused on this host, or traffic would go elsewhere. */
async function checkNoRouteOverlap(opts: NamespaceNetworkPoolOptions, plans: SlotPlan[]): Promise<void> {
  const ours = new Set(plans.map((p) => p.hostLink));
  const ranges = [
    ["cloneCidr", opts.cloneCidr ?? "10.210.0.0/16"],
    ["transitCidr", opts.transitCidr ?? "10.211.0.0/16"],
  ] as const;
  const routes = await runTool("ip", ["-4", "-o", "route", "show", "table", "all"]);
  for (const line of routes.split("\n")) {
    const words = line.trim().split(/\s+/);
    const dest = parseRouteDestination(words[0] === "local" || words[0] === "broadcast" ? (words[1] ?? "") : (words[0] ?? ""));
    const dev = words[words.indexOf("dev") + 1];
    // Aggregates broader than a /16 (a VPN's 10.0.0.0/8, say) lose to our more specific routes.
    if (dest === undefined || dest.size > 2 ** 16 || (dev !== undefined && ours.has(dev))) continue;
    for (const [field, cidr] of ranges) {
      if (rangesOverlap(dest, parseCidr(cidr, field))) {
        throw new Error(`${field} ${cidr} overlaps the host route "${line.trim()}": pick another range`);
      }
    }
  }
}
