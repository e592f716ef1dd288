// Test helper: a "guest" for a network slot without a VM. A namespace whose eth0 (a veth) carries
// the guest MAC, wired to the slot's tap by tap-wire.py, which copies frames between the tap's file
// descriptor and the veth the way a VMM's virtio-net backend does. The guest address is set here
// (`configure: true`) or left to whatever runs inside (our guest init reads it from ip=).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { NetworkSlot } from "#node-runtime/network/types.js";

const here = dirname(fileURLToPath(import.meta.url));

export interface GuestNamespace {
  netns: string;
  close(): void;
}

function ip(args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export async function createGuestNamespace(slot: NetworkSlot, netns: string, configure: boolean): Promise<GuestNamespace> {
  ip(["netns", "add", netns]);
  let wire: ChildProcess | undefined;
  const close = (): void => {
    wire?.kill("SIGKILL");
    try {
      ip(["-n", slot.netns, "link", "del", "wire0"]);
    } catch {
      // went with the guest namespace
    }
    try {
      ip(["netns", "del", netns]);
    } catch {
      // already gone
    }
  };
  try {
    ip(["-n", slot.netns, "link", "add", "wire0", "type", "veth", "peer", "name", "eth0", "netns", netns]);
    ip(["-n", slot.netns, "link", "set", "wire0", "up"]);
    ip(["-n", netns, "link", "set", "eth0", "address", slot.guestMac]);
    if (configure) {
      ip(["-n", netns, "addr", "add", `${slot.guestIp}/${slot.prefixLength}`, "dev", "eth0"]);
      ip(["-n", netns, "link", "set", "eth0", "up"]);
      ip(["-n", netns, "link", "set", "lo", "up"]);
      ip(["-n", netns, "route", "add", "default", "via", slot.gatewayIp]);
    }
    // Frames copied by a user process carry no offload metadata: make the veth compute checksums.
    execFileSync("ip", ["netns", "exec", netns, "ethtool", "-K", "eth0", "tx", "off"], { stdio: "ignore" });
    const w = spawn("ip", ["netns", "exec", slot.netns, "python3", join(here, "tap-wire.py"), slot.tapName, "wire0"], { stdio: ["ignore", "pipe", "inherit"] });
    wire = w;
    await new Promise<void>((ok, fail) => {
      w.stdout!.once("data", () => ok());
      w.once("exit", (c) => fail(new Error(`tap-wire exited ${c}`)));
    });
  } catch (e) {
    close();
    throw e;
  }
  return { netns, close };
}
