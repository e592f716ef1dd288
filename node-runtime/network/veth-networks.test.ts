import { describe, expect, it } from "vitest";
import { parseSubnet, VethNetworks } from "./veth-networks.js";

describe("parseSubnet", () => {
  it("counts /30 blocks in an aligned IPv4 CIDR", () => {
    expect(parseSubnet("10.213.0.0/24", "test network")).toEqual({ base: (10 << 24) + (213 << 16), blocks: 64 });
    expect(parseSubnet("10.213.7.0/29", "test network").blocks).toBe(2);
  });

  it("names the field for bad subnets and prefixes", () => {
    expect(() => parseSubnet("10.213.0.1/24", "containerd network")).toThrow("not aligned");
    expect(() => parseSubnet("10.213.0.0/31", "containerd network")).toThrow("prefix of 8 to 30 bits");
    expect(() => parseSubnet("10.213.0/24", "containerd network")).toThrow("is not an IPv4 address");
    expect(() => new VethNetworks({ subnet: "10.0.0.0/24", prefix: "Too-Long", label: "containerd network" })).toThrow('containerd network prefix "Too-Long"');
  });
});
