// What the kubelet tests do with a Knative-shaped pod: wait until its sandbox and both containers
// run, and call the function through the queue-proxy from outside the pod, as Knative's activator
// or ingress would.
import { FunctionClient } from "#node-runtime/orchestrator/function-client.js";
import { type KubeletNode, QUEUE_PROXY_PORT, waitFor } from "./kubelet-node.js";

/** SayHello through the pod's queue-proxy (its port on the pod IP). */
export async function throughQueueProxy(podIp: string, name: string, timeoutMs = 120_000): Promise<string> {
  return waitFor(
    `an answer through the queue-proxy at ${podIp}:${QUEUE_PROXY_PORT}`,
    async () => {
      const client = new FunctionClient({ kind: "tcp", host: podIp, port: QUEUE_PROXY_PORT });
      try {
        return await client.sayHello(name, 15_000);
      } finally {
        client.close();
      }
    },
    timeoutMs,
    500,
  );
}

/** The pod's sandbox and its two containers once all three run. */
export async function runningKnativePod(node: KubeletNode, name: string) {
  const sandbox = await waitFor(`pod ${name}'s sandbox`, () => node.podSandbox(name), 180_000);
  const running = (container: string) =>
    waitFor(`pod ${name}'s ${container}`, async () => (await node.containers(name, container)).find((c) => c.state === "CONTAINER_RUNNING"), 300_000);
  const queue = await running("queue-proxy");
  const user = await running("user-container");
  return { sandbox, queue, user };
}
