import type { NetworkSlot } from "./types.js";
import { checkMac, formatIpv4, parseCidr, parseIpv4 } from "./ipv4.js";

/** How a pool lays out its slots. Everything defaults to vHive's choices except the names. */
export interface NetworkPoolLayout {
  /** Prefix of namespace and host link names; host links are `<prefix>h<index>` (max 15 chars). */
  namePrefix: string;
  /** Tap inside every namespace. Default `tap0`. */
  tapName?: string;
  /** Guest address, same in every slot. Default 172.16.0.2. */
  guestIp?: string;
  /** Tap address inside every namespace (the guest's gateway). Default 172.16.0.1. */
  gatewayIp?: string;
  /** Prefix length of the guest link. Default 30. */
  prefixLength?: number;
  /** Guest MAC, same in every slot. Default 02:fc:00:00:00:01 (locally administered). */
  guestMac?: string;
  /** Clone IPs: slot i answers at the (i+1)-th address of this range. Default 10.210.0.0/16. */
  cloneCidr?: string;
  /** /30 links between host and namespaces, one per slot. Default 10.211.0.0/16. */
  transitCidr?: string;
}

/** Name of the uplink inside every namespace (same in all; namespaces keep them apart). */
export const NS_UPLINK = "uplink0";

export interface SlotPlan {
  slot: NetworkSlot;
  hostLink: string;
  hostTransitIp: string;
  nsTransitIp: string;
}

export function planSlots(layout: NetworkPoolLayout, size: number): SlotPlan[] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`network pool size must be a positive integer, got ${size}`);
  if (!/^[a-z][a-z0-9]*$/.test(layout.namePrefix))
    throw new Error(`namePrefix ${JSON.stringify(layout.namePrefix)} must be lowercase letters and digits, starting with a letter`);
  const longest = `${layout.namePrefix}h${size - 1}`;
  if (longest.length > 15) throw new Error(`namePrefix ${layout.namePrefix} too long: host link ${longest} exceeds 15 characters`);
  const tapName = layout.tapName ?? "tap0";
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tapName)) throw new Error(`tapName ${JSON.stringify(tapName)} is not a valid link name`);
  const guestIp = layout.guestIp ?? "172.16.0.2";
  const gatewayIp = layout.gatewayIp ?? "172.16.0.1";
  const prefixLength = layout.prefixLength ?? 30;
  const guestMac = (layout.guestMac ?? "02:fc:00:00:00:01").toLowerCase();
  const g = parseIpv4(guestIp, "guestIp");
  const gw = parseIpv4(gatewayIp, "gatewayIp");
  if (!Number.isInteger(prefixLength) || prefixLength < 1 || prefixLength > 30) throw new Error(`prefixLength must be in 1..30, got ${prefixLength}`);
  const net = 2 ** (32 - prefixLength);
  if (Math.floor(g / net) !== Math.floor(gw / net) || g === gw)
    throw new Error(`guestIp ${guestIp} and gatewayIp ${gatewayIp} must be distinct addresses of one /${prefixLength}`);
  checkMac(guestMac, "guestMac");
  const clone = parseCidr(layout.cloneCidr ?? "10.210.0.0/16", "cloneCidr");
  const transit = parseCidr(layout.transitCidr ?? "10.211.0.0/16", "transitCidr");
  if (clone.size - 2 < size) throw new Error(`cloneCidr ${layout.cloneCidr} has room for ${clone.size - 2} slots, pool size is ${size}`);
  if (transit.size / 4 < size) throw new Error(`transitCidr ${layout.transitCidr} has room for ${transit.size / 4} slots, pool size is ${size}`);
  return Array.from({ length: size }, (_, index) => ({
    slot: {
      index,
      netns: `${layout.namePrefix}-${index}`,
      tapName,
      guestIp,
      guestMac,
      gatewayIp,
      prefixLength,
      cloneIp: formatIpv4(clone.base + index + 1),
    },
    hostLink: `${layout.namePrefix}h${index}`,
    hostTransitIp: formatIpv4(transit.base + index * 4 + 1),
    nsTransitIp: formatIpv4(transit.base + index * 4 + 2),
  }));
}

/** `ip` invocations that build one slot (each an argv for `ip`). Pure. */
export function slotIpCommands(p: SlotPlan): string[][] {
  const ns = p.slot.netns;
  return [
    ["netns", "add", ns],
    ["-n", ns, "link", "set", "lo", "up"],
    ["-n", ns, "tuntap", "add", "dev", p.slot.tapName, "mode", "tap"],
    ["-n", ns, "addr", "add", `${p.slot.gatewayIp}/${p.slot.prefixLength}`, "dev", p.slot.tapName],
    ["-n", ns, "link", "set", p.slot.tapName, "up"],
    ["link", "add", p.hostLink, "type", "veth", "peer", "name", NS_UPLINK, "netns", ns],
    ["addr", "add", `${p.hostTransitIp}/30`, "dev", p.hostLink],
    ["link", "set", p.hostLink, "up"],
    ["-n", ns, "addr", "add", `${p.nsTransitIp}/30`, "dev", NS_UPLINK],
    ["-n", ns, "link", "set", NS_UPLINK, "up"],
    ["-n", ns, "route", "add", "default", "via", p.hostTransitIp],
    ["route", "add", `${p.slot.cloneIp}/32`, "via", p.nsTransitIp, "dev", p.hostLink],
  ];
}

/**
 * iptables-restore input for the namespace: the clone IP is DNATed to the guest on the way in and
 * the guest SNATed to the clone IP on the way out. Pure.
 */
export function slotNatRules(p: SlotPlan): string {
  return [
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    `-A PREROUTING -i ${NS_UPLINK} -d ${p.slot.cloneIp}/32 -j DNAT --to-destination ${p.slot.guestIp}`,
    `-A POSTROUTING -o ${NS_UPLINK} -s ${p.slot.guestIp}/32 -j SNAT --to-source ${p.slot.cloneIp}`,
    "COMMIT",
    "",
  ].join("\n");
}
