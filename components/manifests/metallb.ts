import type { K8sObject } from "./types.js";

export const METALLB_NAMESPACE = "metallb-system";

/** MetalLB pool of addresses for LoadBalancer Services (metallb.io/v1beta1 IPAddressPool). */
export function metallbAddressPool(name: string, addresses: string[]): K8sObject {
  if (addresses.length === 0) throw new Error(`metallbPool.addresses: at least one range or CIDR is required`);
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name, namespace: METALLB_NAMESPACE },
    spec: { addresses: [...addresses], autoAssign: true },
  };
}

/** Announces the pool's addresses on the local L2 segment (ARP/NDP). */
export function metallbL2Advertisement(name: string, poolName: string): K8sObject {
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "L2Advertisement",
    metadata: { name, namespace: METALLB_NAMESPACE },
    spec: { ipAddressPools: [poolName] },
  };
}
