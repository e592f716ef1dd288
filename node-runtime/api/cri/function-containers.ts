import type { CreateContainerInfo } from "./cri-messages.js";

// How a CreateContainer call is recognised as a function: vHive's convention (Knative's
// `user-container` carrying GUEST_IMAGE) or our own pod annotations, for pods not made by Knative.

export const USER_CONTAINER = "user-container";
export const QUEUE_PROXY_CONTAINER = "queue-proxy";

/** Pod annotations that mark a container as a function without Knative's conventions. */
export const FUNCTION_ANNOTATIONS = {
  /** Image the function runs from (like GUEST_IMAGE). Setting it makes the pod a function pod. */
  image: "node-runtime.vhive.dev/function-image",
  /** Port the function listens on inside its sandbox (like GUEST_PORT). */
  port: "node-runtime.vhive.dev/function-port",
  /** Revision key for snapshots (like K_REVISION). */
  revision: "node-runtime.vhive.dev/function-revision",
  /** Which container of the pod stands in for the function (default: user-container). */
  container: "node-runtime.vhive.dev/function-container",
} as const;

export const DEFAULT_GUEST_PORT = 50051;

export interface FunctionContainerSpec {
  image: string;
  port: number;
  revision: string;
  /** Environment the function gets: the container's own env minus our control variables. */
  env: Record<string, string>;
}

export class FunctionSpecError extends Error {}

const CONTROL_ENVS = new Set(["GUEST_IMAGE", "GUEST_PORT"]);

function parsePort(value: string, source: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FunctionSpecError(`${source}: "${value}" is not a TCP port (1-65535)`);
  }
  return port;
}

/**
 * Returns the function this container stands for, or undefined for an ordinary container.
 * Throws FunctionSpecError when the container is marked as a function but its spec is unusable.
 */
export function functionSpecOf(c: CreateContainerInfo): FunctionContainerSpec | undefined {
  const env = Object.fromEntries(c.envs.map((e) => [e.key, e.value]));
  const annotated = c.podAnnotations[FUNCTION_ANNOTATIONS.image];
  const annotatedContainer = c.podAnnotations[FUNCTION_ANNOTATIONS.container] ?? USER_CONTAINER;

  let image: string | undefined;
  let portText: string | undefined;
  let portSource: string;
  if (c.containerName === USER_CONTAINER && env.GUEST_IMAGE !== undefined) {
    image = env.GUEST_IMAGE;
    portText = env.GUEST_PORT;
    portSource = "env GUEST_PORT";
  } else if (annotated !== undefined && c.containerName === annotatedContainer) {
    image = annotated;
    portText = c.podAnnotations[FUNCTION_ANNOTATIONS.port];
    portSource = `annotation ${FUNCTION_ANNOTATIONS.port}`;
  } else {
    return undefined;
  }
  if (image.trim() === "") {
    throw new FunctionSpecError(`container ${c.containerName} of pod ${c.podNamespace}/${c.podName}: function image is empty`);
  }
  const port = portText === undefined || portText === "" ? DEFAULT_GUEST_PORT : parsePort(portText, portSource);
  const revision = env.K_REVISION ?? c.podAnnotations[FUNCTION_ANNOTATIONS.revision] ?? image;
  const functionEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !CONTROL_ENVS.has(k)));
  return { image, port, revision, env: functionEnv };
}
