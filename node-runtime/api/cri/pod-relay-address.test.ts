import { describe, expect, it } from "vitest";
import { relayBindingFor } from "./pod-relay-address.js";

describe("relayBindingFor", () => {
  it("puts hostNetwork pods' relays on the configured host, open to any local peer", async () => {
    expect(await relayBindingFor("p", { hostNetwork: true, ips: [] }, "127.0.0.1")).toEqual({ host: "127.0.0.1", allowedPeers: undefined });
  });

  it("puts a networked pod's relay on the node's address towards the pod, open to the pod's IPs only", async () => {
    // 127.0.0.0/8 is local on every Linux host: the kernel's source towards 127.0.0.5 is 127.0.0.1.
    expect(await relayBindingFor("p", { hostNetwork: false, ips: ["127.0.0.5", "::1"] }, "192.0.2.9")).toEqual({
      host: "127.0.0.1",
      allowedPeers: ["127.0.0.5", "::1"],
    });
  });

  it("names the pod when it has no usable IP", async () => {
    await expect(relayBindingFor("pod-x", { hostNetwork: false, ips: [] }, "127.0.0.1")).rejects.toThrow(/pod sandbox pod-x has no IP/);
    await expect(relayBindingFor("pod-y", { hostNetwork: false, ips: ["10.0.0.1; reboot"] }, "127.0.0.1")).rejects.toThrow(
      /pod sandbox pod-y: network.ip "10.0.0.1; reboot" is not an IP address/,
    );
  });
});
