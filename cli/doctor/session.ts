// Opens doctor's SSH session to a host with node-ssh: the configured key (file or agent) and the
// pinned host key. A failure is turned into a check result that says what to fix. Once logged
// in, every command has a deadline and a dropped connection fails the command in progress, so
// one bad host becomes that host's failed row instead of a hang or a crash of the whole report.
import { createHash } from "node:crypto";
import { NodeSSH } from "node-ssh";
import type { HostConfig } from "#components/config/schema.js";
import type { CheckResult, Remote } from "./types.js";

export interface HostSession {
  readonly remote: Remote;
  close(): void;
}

export interface Credentials {
  readonly privateKey?: string;
  readonly agent?: string;
}

export interface SessionOptions {
  /** Seconds to wait for the SSH handshake and login. */
  readonly connectTimeoutS?: number;
  /** Seconds one command may take before the host counts as not answering. */
  readonly execTimeoutS?: number;
}

export const DEFAULT_EXEC_TIMEOUT_S = 30;

/** A command that got no answer: the host hung or dropped the connection. */
export class RemoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RemoteError";
  }
}

function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export async function openSession(host: HostConfig, credentials: Credentials, options: SessionOptions = {}): Promise<HostSession | CheckResult> {
  const timeoutS = options.connectTimeoutS ?? 10;
  const execTimeoutS = options.execTimeoutS ?? DEFAULT_EXEC_TIMEOUT_S;
  const ssh = new NodeSSH();
  const pinned = host.hostKey ? Buffer.from(host.hostKey.split(/\s+/)[1]!, "base64") : undefined;
  let offered: Buffer | undefined;
  const check = "ssh";
  try {
    await ssh.connect({
      host: host.address,
      port: host.port,
      username: host.user,
      ...(credentials.privateKey ? { privateKey: credentials.privateKey } : {}),
      ...(credentials.agent ? { agent: credentials.agent } : {}),
      readyTimeout: timeoutS * 1000,
      hostVerifier: (key: Buffer) => {
        offered = key;
        return pinned === undefined ? host.allowUnknownHostKey : key.equals(pinned);
      },
    });
  } catch (error) {
    ssh.dispose();
    const e = error as Error & { level?: string; code?: string };
    const where = `${host.user}@${host.address}:${host.port}`;
    if (offered && !pinned && !host.allowUnknownHostKey)
      return {
        host: host.name,
        check,
        verdict: "fail",
        detail: `no hostKey pinned; host offers ${fingerprint(offered)}`,
        remedy: `pin it: hostKey: "$(ssh-keyscan -t ed25519 -p ${host.port} ${host.address} | cut -d' ' -f2-)" (check the fingerprint out of band)`,
      };
    if (offered && pinned && !offered.equals(pinned))
      return {
        host: host.name,
        check,
        verdict: "fail",
        detail: `host key is ${fingerprint(offered)}, pinned is ${fingerprint(pinned)}`,
        remedy: "the host was reinstalled or this is not the host you meant: verify, then update hosts[].hostKey",
      };
    if (e.level === "client-authentication")
      return {
        host: host.name,
        check,
        verdict: "fail",
        detail: `${where} refused the configured key`,
        remedy: `add the public key to ~${host.user}/.ssh/authorized_keys on ${host.name}, or fix hosts[].sshKey`,
      };
    return {
      host: host.name,
      check,
      verdict: "fail",
      detail: `cannot connect to ${where}: ${e.code ?? e.message}`,
      remedy: "check the address, that sshd runs, and that no firewall blocks the port",
    };
  }

  // After login node-ssh listens for connection errors only while a request is being opened;
  // an error at any other time would be an unhandled 'error' event that ends the process.
  const connection = ssh.connection!;
  let lost: string | undefined;
  const waiting = new Set<(reason: string) => void>();
  const loseConnection = (reason: string) => {
    lost ??= reason;
    for (const fail of waiting) fail(lost);
  };
  connection.on("error", (error: Error & { code?: string }) => loseConnection(`the connection failed (${error.code ?? error.message})`));
  connection.on("close", () => loseConnection("the host closed the connection"));

  return {
    remote: (command) =>
      new Promise((resolve, reject) => {
        if (lost !== undefined) {
          reject(new RemoteError(lost));
          return;
        }
        const fail = (reason: string) => {
          clearTimeout(timer);
          waiting.delete(fail);
          reject(new RemoteError(reason));
        };
        const timer = setTimeout(() => {
          fail(`no answer to a command within ${execTimeoutS} s`);
          ssh.dispose();
        }, execTimeoutS * 1000);
        waiting.add(fail);
        ssh.execCommand(command).then(
          (r) => {
            clearTimeout(timer);
            waiting.delete(fail);
            resolve({ stdout: r.stdout, stderr: r.stderr, code: r.code });
          },
          (error: Error) => fail(lost ?? `the command could not be run (${error.message})`),
        );
      }),
    close: () => {
      lost ??= "closed";
      ssh.dispose();
    },
  };
}
