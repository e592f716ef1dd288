import { describe, expect, it } from "vitest";
import { planSlots, slotIpCommands, slotNatRules } from "./slot-plan.js";

describe("planSlots", () => {
  it("gives every slot the same guest side and its own clone IP, transit /30 and names", () => {
    const plans = planSlots({ namePrefix: "vhnet", cloneCidr: "10.210.0.0/16", transitCidr: "10.211.0.0/16" }, 3);
    expect(plans.map((p) => [p.slot.netns, p.hostLink, p.slot.cloneIp, p.hostTransitIp, p.nsTransitIp])).toEqual([
      ["vhnet-0", "vhneth0", "10.210.0.1", "10.211.0.1", "10.211.0.2"],
      ["vhnet-1", "vhneth1", "10.210.0.2", "10.211.0.5", "10.211.0.6"],
      ["vhnet-2", "vhneth2", "10.210.0.3", "10.211.0.9", "10.211.0.10"],
    ]);
    expect(new Set(plans.map((p) => JSON.stringify([p.slot.tapName, p.slot.guestIp, p.slot.guestMac, p.slot.gatewayIp]))).size).toBe(1);
  });

  it("builds the same commands and NAT rules every time", () => {
    const [p] = planSlots({ namePrefix: "vhnet" }, 1);
    expect(
      slotIpCommands(p!)
        .map((a) => `ip ${a.join(" ")}`)
        .join("\n"),
    ).toMatchSnapshot();
    expect(slotNatRules(p!)).toMatchSnapshot();
  });

  it("names the bad field", () => {
    expect(() => planSlots({ namePrefix: "vhnet", cloneCidr: "10.0.0.1/24" }, 1)).toThrow(/cloneCidr.*host bits/);
    expect(() => planSlots({ namePrefix: "vhnet", cloneCidr: "10.0.0.0/30" }, 4)).toThrow(/cloneCidr/);
    expect(() => planSlots({ namePrefix: "vhnet", gatewayIp: "172.16.0.9" }, 1)).toThrow(/gatewayIp/);
    expect(() => planSlots({ namePrefix: "Bad" }, 1)).toThrow(/namePrefix/);
    expect(() => planSlots({ namePrefix: "vhnet" }, 0)).toThrow(/size/);
  });
});
