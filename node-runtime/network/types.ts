/**
 * One pre-built network slot, as vHive lays them out: a network namespace per instance holding a tap
 * with the same guest IP and MAC in every slot (so snapshots restore unchanged), reachable from the
 * host at a unique clone IP through NAT.
 */
export interface NetworkSlot {
  /** Index in the pool; stable for the slot's lifetime. */
  index: number;
  /** Network namespace name (`ip netns` name). */
  netns: string;
  /** Tap device inside the namespace, same name in every slot. */
  tapName: string;
  /** Guest address and MAC, same in every slot. */
  guestIp: string;
  guestMac: string;
  /** Gateway the guest uses (the tap's address inside the namespace), with prefix length. */
  gatewayIp: string;
  prefixLength: number;
  /** Unique address on the host side that NATs to `guestIp`. */
  cloneIp: string;
}

/** Hands out slots and takes them back; slots are recycled, not rebuilt, on release. */
export interface NetworkPool {
  acquire(): Promise<NetworkSlot>;
  release(slot: NetworkSlot): Promise<void>;
  /** Removes every namespace and rule the pool created. */
  destroy(): Promise<void>;
}
