// SSH to a host as the provider needs it: key or agent auth, the host key checked against the
// pinned one (when one is pinned), the dial retried a bounded number of times while a host boots,
// commands fed on stdin with a time limit, and a dead peer noticed by keepalives.
import { createHash } from "node:crypto";
import { Client, type ConnectConfig } from "ssh2";
import type { ProcessExit } from "#node-runtime/system/process-exit.js";

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** A private key (PEM/OpenSSH text); else the agent at agentSocketPath is asked. */
  readonly privateKey?: string;
  readonly agentSocketPath?: string;
  /** "ssh-ed25519 AAAA…": when set, any other host key is refused. */
  readonly hostKey?: string;
  /** Dial attempts before giving up on a host that does not answer. */
  readonly dialAttempts?: number;
  readonly perDialTimeoutS?: number;
}

export interface ExecResult extends Readonly<ProcessExit> {
  readonly stdout: string;
  readonly stderr: string;
}

/** An SSH failure that is about the connection, not the command (kind says which). */
export class SshConnectError extends Error {
  constructor(
    readonly kind: "unreachable" | "host-key-mismatch" | "auth" | "other",
    message: string,
  ) {
    super(message);
    this.name = "SshConnectError";
  }
}

/** A command that did not finish within its time limit, or whose connection dropped. */
export class SshExecError extends Error {
  constructor(
    readonly kind: "timeout" | "connection-lost",
    message: string,
  ) {
    super(message);
    this.name = "SshExecError";
  }
}

export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key blob of a "type base64 [comment]" public key line. */
export function keyBlob(line: string): Buffer {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) throw new Error(`not a public key line: ${line.slice(0, 40)}`);
  return Buffer.from(parts[1]!, "base64");
}

export function describeTarget(target: SshTarget): string {
  return `${target.user}@${target.host}:${target.port}`;
}

function connectOnce(target: SshTarget): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let mismatch: string | undefined;
    const pinned = target.hostKey ? keyBlob(target.hostKey) : undefined;
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      ...(target.privateKey ? { privateKey: target.privateKey } : { agent: target.agentSocketPath }),
      readyTimeout: (target.perDialTimeoutS ?? 15) * 1000,
      // A host that vanishes mid-command is noticed in two minutes instead of never; a busy host
      // (seen: one minute without an answer while a host loaded an image under load) is not.
      keepaliveInterval: 15_000,
      keepaliveCountMax: 8,
      hostVerifier: (key: Buffer) => {
        if (!pinned) return true;
        if (key.equals(pinned)) return true;
        mismatch = fingerprint(key);
        return false;
      },
    };
    client.once("ready", () => resolve(client));
    client.once("error", (error: Error & { level?: string; code?: string }) => {
      client.end();
      const where = describeTarget(target);
      if (mismatch !== undefined)
        reject(new SshConnectError("host-key-mismatch", `host key of ${where} is ${mismatch}, not the pinned ${fingerprint(pinned!)}`));
      else if (error.level === "client-authentication") reject(new SshConnectError("auth", `${where} refused the configured private key (${error.message})`));
      else if (["EHOSTUNREACH", "ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH", "ECONNRESET"].includes(error.code ?? "") || /Timed out/i.test(error.message))
        reject(new SshConnectError("unreachable", `cannot reach ${where}: ${error.code ?? error.message}`));
      else reject(new SshConnectError("other", `ssh to ${where} failed: ${error.message}`));
    });
    if (!target.privateKey && !target.agentSocketPath) {
      reject(new SshConnectError("auth", `${describeTarget(target)}: no private key and no ssh-agent socket to authenticate with`));
      return;
    }
    client.connect(config);
  });
}

export async function connect(target: SshTarget): Promise<Client> {
  const attempts = Math.max(1, target.dialAttempts ?? 1);
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await connectOnce(target);
    } catch (error) {
      last = error;
      // Only an unreachable host may come up later; a wrong key stays wrong.
      if (!(error instanceof SshConnectError) || error.kind !== "unreachable" || attempt === attempts) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw last;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. */
  readonly stdin?: string;
  /** Time limit in seconds; the channel is closed when it passes. */
  readonly timeoutS?: number;
}

export function exec(client: Client, command: string, options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const timer =
        options.timeoutS === undefined
          ? undefined
          : setTimeout(() => {
              settled = true;
              stream.close();
              reject(new SshExecError("timeout", `no answer within ${options.timeoutS} s`));
            }, options.timeoutS * 1000);
      const onLost = () => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        reject(new SshExecError("connection-lost", "the connection dropped while the command ran"));
      };
      client.once("close", onLost);
      stream.on("data", (d: Buffer) => out.push(d));
      stream.stderr.on("data", (d: Buffer) => err.push(d));
      stream.on("close", (code: number | null, signal?: string) => {
        client.removeListener("close", onLost);
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        resolve({
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          code,
          signal: signal ?? null,
        });
      });
      stream.end(options.stdin ?? "");
    });
  });
}

export async function runRemote(target: SshTarget, command: string, options: ExecOptions = {}): Promise<ExecResult> {
  const client = await connect(target);
  try {
    return await exec(client, command, options);
  } finally {
    client.end();
  }
}

export async function copyToRemote(target: SshTarget, localPath: string, remotePath: string): Promise<void> {
  const client = await connect(target);
  try {
    await new Promise<void>((resolve, reject) => {
      client.sftp((error, sftp) => {
        if (error) return reject(error);
        // fastPut keeps several SFTP write requests in flight, as a file copy should.
        sftp.fastPut(localPath, remotePath, { mode: 0o600 }, (e) => (e ? reject(e) : resolve()));
      });
    });
  } finally {
    client.end();
  }
}
