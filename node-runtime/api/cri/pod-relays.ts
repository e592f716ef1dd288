import type { Logger } from "pino";
import type { FunctionEndpoint } from "#node-runtime/sandbox/driver.js";
import type { FunctionContainerStore, RelayRecord } from "./function-container-store.js";
import { FunctionRelay, type RelayAddress } from "./function-relay.js";
import type { RelayBinding } from "./pod-relay-address.js";

// The relays of all function pods on this node: one per pod and function container name, opened
// when the pod's first function container is created, re-opened at the same address after a
// restart of the node runtime, and closed when the pod is stopped.

const key = (podSandboxId: string, containerName: string) => `${podSandboxId}/${containerName}`;

export class PodRelays {
  private readonly open = new Map<string, FunctionRelay>();
  /** Relays being opened, so two calls for one pod share one listener. */
  private readonly opening = new Map<string, Promise<FunctionRelay>>();

  constructor(
    private readonly store: FunctionContainerStore,
    private readonly logger?: Logger,
  ) {}

  /** The pod's relay for this container name, opened (and persisted) on first use. */
  async ensure(podSandboxId: string, containerName: string, bind: () => Promise<RelayBinding>): Promise<FunctionRelay> {
    const k = key(podSandboxId, containerName);
    const existing = this.open.get(k);
    if (existing) return existing;
    let pending = this.opening.get(k);
    if (!pending) {
      pending = (async () => {
        const { host, allowedPeers } = await bind();
        const relay = await FunctionRelay.listen(host, 0, allowedPeers);
        await this.store.putRelay({ podSandboxId, containerName, ...relay.address, ...(allowedPeers ? { allowedPeers } : {}) });
        this.open.set(k, relay);
        return relay;
      })().finally(() => this.opening.delete(k));
      this.opening.set(k, pending);
    }
    return pending;
  }

  /** Re-opens a persisted relay at its address (after a restart of the node runtime). */
  async reopen(r: RelayRecord): Promise<FunctionRelay | undefined> {
    try {
      const relay = await FunctionRelay.listen(r.host, r.port, r.allowedPeers);
      this.open.set(key(r.podSandboxId, r.containerName), relay);
      return relay;
    } catch (e) {
      // The queue-proxy keeps the address it was given; nothing else would reach it.
      this.logger?.error(
        { pod: r.podSandboxId, container: r.containerName, address: `${r.host}:${r.port}`, err: String(e) },
        "could not re-open a function relay at its address",
      );
      return undefined;
    }
  }

  /** Where the pod's queue-proxy reaches its function, if the pod has a function. */
  addressOf(podSandboxId: string): RelayAddress | undefined {
    const r = this.store.relaysOf(podSandboxId)[0];
    return r && { host: r.host, port: r.port };
  }

  retarget(podSandboxId: string, containerName: string, instanceId: string, endpoint: FunctionEndpoint): void {
    this.open.get(key(podSandboxId, containerName))?.retarget(instanceId, endpoint);
  }

  untarget(podSandboxId: string, containerName: string, instanceId: string): void {
    this.open.get(key(podSandboxId, containerName))?.untarget(instanceId);
  }

  /** Closes the pod's relays; their records go with the pod's (FunctionContainerStore.deletePod). */
  async closePod(podSandboxId: string): Promise<void> {
    const prefix = `${podSandboxId}/`;
    const closing: Promise<void>[] = [];
    for (const [k, relay] of this.open) {
      if (!k.startsWith(prefix)) continue;
      this.open.delete(k);
      closing.push(relay.close());
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    const relays = [...this.open.values()];
    this.open.clear();
    await Promise.all(relays.map((r) => r.close()));
  }
}
