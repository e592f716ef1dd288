// Test double of the NetworkPool (stands in for node-runtime/network's namespace pool in orchestrator
// tests): hands out numbered slots and records which are out, so tests can check none leaks.
import type { NetworkPool, NetworkSlot } from "#node-runtime/network/types.js";

export class NetworkPoolDouble implements NetworkPool {
  readonly out = new Set<number>();
  private readonly free: number[];

  constructor(size: number) {
    this.free = Array.from({ length: size }, (_, i) => i);
  }

  async acquire(): Promise<NetworkSlot> {
    const index = this.free.shift();
    if (index === undefined) throw new Error("all network slots are in use");
    this.out.add(index);
    return {
      index,
      netns: `vhor-double-${index}`,
      tapName: "tap0",
      guestIp: "172.16.0.2",
      guestMac: "02:fc:00:00:00:01",
      gatewayIp: "172.16.0.1",
      prefixLength: 30,
      cloneIp: `10.210.0.${index + 1}`,
    };
  }

  async release(slot: NetworkSlot): Promise<void> {
    if (!this.out.delete(slot.index)) throw new Error(`slot ${slot.index} released twice`);
    this.free.push(slot.index);
  }

  async destroy(): Promise<void> {}
}
