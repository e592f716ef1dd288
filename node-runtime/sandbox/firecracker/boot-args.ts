import type { NetworkSlot } from "#node-runtime/network/types.js";

/** Where our init lives inside every guest root filesystem. */
export const GUEST_INIT_PATH = "/.vhfc/init";
export const GUEST_CONFIG_PATH = "/.vhfc/config";
/** Directories our init needs in the read-only image: the writable layer's mount and the merged root. */
export const GUEST_LAYER_DIRS = ["/.vhfc/rw", "/.vhfc/root", "/proc", "/dev"] as const;
/** The writable layer is the second virtio disk (the root disk is always the first). */
export const WRITABLE_LAYER_DEVICE = "vdb";

/** Serial console, reboot on panic, no PCI scan, no keyboard probing: the usual microVM line. */
export const DEFAULT_BASE_BOOT_ARGS = "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

export function prefixToNetmask(prefixLength: number): string {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new Error(`network.prefixLength must be an integer in 0..32, got ${prefixLength}`);
  }
  const bits = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join(".");
}

/**
 * Kernel command line of a function VM: the base arguments, our init, and the guest address in the
 * kernel's `ip=` syntax (client::gateway:netmask:hostname:device:autoconf). The kernel applies it
 * when built with IP_PNP; our init applies it again itself, so either kernel works.
 */
export function buildBootArgs(base: string, slot: NetworkSlot | undefined, hostname: string): string {
  const parts = [base.trim(), `init=${GUEST_INIT_PATH}`, `vhfc.rw=${WRITABLE_LAYER_DEVICE}`];
  if (slot !== undefined) {
    parts.push(`ip=${slot.guestIp}::${slot.gatewayIp}:${prefixToNetmask(slot.prefixLength)}:${hostname}:eth0:off`);
  }
  return parts.filter((p) => p.length > 0).join(" ");
}
