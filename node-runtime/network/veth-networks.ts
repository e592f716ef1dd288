// Per-instance network namespaces for sandboxes that must listen on their image's own port
// (vHive's GUEST_PORT, e.g. 50051 in every instance): one namespace per instance, joined to the
// host by a veth pair on its own /30, so the host reaches the function at the namespace's address
// (and so does a pod network, through the host's routing). No NAT: functions are reached; their
// default route points at the host end. Used by the containerd driver (the container joins the
// namespace) and the gVisor driver (runsc's netstack takes the namespace's address over).
import { runCommand } from "../images/run-command.js";

export interface VethNetworkOptions {
  /** IPv4 block carved into /30s, one per instance, e.g. "10.213.0.0/24". */
  subnet: string;
  /** Prefix for namespace names and host-side link names (at most 7 characters). */
  prefix: string;
  /** What the errors call this layout, e.g. "containerd network" (they name its subnet and prefix). */
  label: string;
}

export interface VethNetwork {
  netns: string;
  netnsPath: string;
  hostLink: string;
  hostIp: string;
  containerIp: string;
}

function ipToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`"${ip}" is not an IPv4 address`);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

export function parseSubnet(subnet: string, label: string): { base: number; blocks: number } {
  const [ip, bitsText] = subnet.split("/");
  const bits = Number(bitsText);
  if (!ip || !Number.isInteger(bits) || bits < 8 || bits > 30)
    throw new Error(`${label} subnet "${subnet}" must be an IPv4 CIDR with a prefix of 8 to 30 bits`);
  const size = 2 ** (32 - bits);
  const base = ipToInt(ip);
  if (base % size !== 0) throw new Error(`${label} subnet "${subnet}" is not aligned to its prefix length`);
  return { base, blocks: size / 4 };
}

export class VethNetworks {
  private readonly base: number;
  private readonly blocks: number;
  private readonly used = new Set<number>();

  constructor(private readonly options: VethNetworkOptions) {
    ({ base: this.base, blocks: this.blocks } = parseSubnet(options.subnet, options.label));
    if (!/^[a-z][a-z0-9]{0,6}$/.test(options.prefix)) throw new Error(`${options.label} prefix "${options.prefix}" must be 1-7 lower-case letters or digits`);
  }

  private networkAt(index: number): VethNetwork {
    const first = this.base + index * 4;
    return {
      netns: `${this.options.prefix}-ns-${index}`,
      netnsPath: `/var/run/netns/${this.options.prefix}-ns-${index}`,
      hostLink: `${this.options.prefix}h${index}`,
      hostIp: intToIp(first + 1),
      containerIp: intToIp(first + 2),
    };
  }

  /**
   * Creates the namespace, the veth pair and the addresses for one instance. Blocks whose
   * namespace already exists (another process, or a leftover) are skipped, never touched.
   */
  async acquire(): Promise<VethNetwork> {
    for (let index = 0; index < this.blocks; index++) {
      if (this.used.has(index)) continue;
      const network = this.networkAt(index);
      this.used.add(index);
      try {
        await runCommand("ip", ["netns", "add", network.netns]);
      } catch (error) {
        if (/exists/i.test((error as Error).message)) continue; // stays marked used: not ours
        this.used.delete(index);
        throw new Error(`cannot create network namespace ${network.netns}: ${(error as Error).message}`);
      }
      try {
        await runCommand("ip", ["link", "add", network.hostLink, "type", "veth", "peer", "name", "eth0", "netns", network.netns]);
        await runCommand("ip", ["addr", "add", `${network.hostIp}/30`, "dev", network.hostLink]);
        await runCommand("ip", ["link", "set", network.hostLink, "up"]);
        const inside = (...args: string[]) => runCommand("ip", ["netns", "exec", network.netns, "ip", ...args]);
        await inside("link", "set", "lo", "up");
        await inside("addr", "add", `${network.containerIp}/30`, "dev", "eth0");
        await inside("link", "set", "eth0", "up");
        await inside("route", "add", "default", "via", network.hostIp);
        return network;
      } catch (error) {
        await this.release(network);
        throw new Error(`cannot set up network namespace ${network.netns}: ${(error as Error).message}`);
      }
    }
    throw new Error(`${this.options.label} subnet ${this.options.subnet} is full (${this.blocks} instances)`);
  }

  /**
   * Deletes a namespace this layout names (`/var/run/netns/<prefix>-ns-<n>`) that an earlier driver
   * left, with its veth; false for any other path, which is left alone.
   */
  async releaseLeftover(netnsPath: string): Promise<boolean> {
    const m = new RegExp(`^/var/run/netns/${this.options.prefix}-ns-(\\d+)$`).exec(netnsPath);
    const index = m ? Number(m[1]) : NaN;
    if (!(index >= 0 && index < this.blocks)) return false;
    await this.release(this.networkAt(index));
    return true;
  }

  /** Deletes the namespace (which takes both veth ends with it) and frees the address block. */
  async release(network: VethNetwork): Promise<void> {
    await runCommand("ip", ["netns", "del", network.netns]).catch(() => undefined);
    await runCommand("ip", ["link", "del", network.hostLink]).catch(() => undefined);
    const index = Number(network.netns.slice(network.netns.lastIndexOf("-") + 1));
    this.used.delete(index);
  }
}
