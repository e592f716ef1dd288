// The `connection` input of the provider's host resources, as SSH needs it.
import type { InputReader } from "./inputs.js";
import type { SshTarget } from "./ssh.js";

export function readConnection(inputs: InputReader): SshTarget | undefined {
  const c = inputs.object("connection");
  if (!c) return undefined;
  const host = c.string("host", true);
  const user = c.string("user", true);
  const port = c.integer("port", 1, 65535) ?? 22;
  const privateKey = c.string("privateKey");
  const agentSocketPath = c.string("agentSocketPath");
  const hostKey = c.string("hostKey");
  const dialAttempts = c.integer("dialAttempts", 1, 1000);
  const perDialTimeoutS = c.integer("perDialTimeoutS", 1, 3600);
  if (host === undefined || user === undefined) return undefined;
  return {
    host,
    user,
    port,
    ...(privateKey ? { privateKey } : {}),
    ...(agentSocketPath ? { agentSocketPath } : {}),
    ...(hostKey ? { hostKey } : {}),
    ...(dialAttempts ? { dialAttempts } : {}),
    ...(perDialTimeoutS ? { perDialTimeoutS } : {}),
  };
}
