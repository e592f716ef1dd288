// Opens doctor's SSH session to a host with node-ssh: the configured key (file or agent) and the
// pinned host key. A failure is turned into a check result that says what to fix.
import { createHash } from "node:crypto";
import { NodeSSH } from "node-ssh";
import type { HostConfig } from "../../components/config/schema.js";
import type { CheckResult, Remote } from "./types.js";

export interface HostSession {
  readonly remote: Remote;
  close(): void;
}

export interface Credentials {
  readonly privateKey?: string;
  readonly agent?: string;
}

function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export async function openSession(host: HostConfig, credentials: Credentials, timeoutS = 10): Promise<HostSession | CheckResult> {
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
    const e = error as Error & { level?: string; code?: string };
    const where = `${host.user}@${host.address}:${host.port}`;
    if (offered && !pinned && !host.allowUnknownHostKey)
      return { host: host.name, check, verdict: "fail", detail: `no hostKey pinned; host offers ${fingerprint(offered)}`, remedy: `pin it: hostKey: "$(ssh-keyscan -t ed25519 -p ${host.port} ${host.address} | cut -d' ' -f2-)" (check the fingerprint out of band)` };
    if (offered && pinned && !offered.equals(pinned))
      return { host: host.name, check, verdict: "fail", detail: `host key is ${fingerprint(offered)}, pinned is ${fingerprint(pinned)}`, remedy: "the host was reinstalled or this is not the host you meant: verify, then update hosts[].hostKey" };
    if (e.level === "client-authentication")
      return { host: host.name, check, verdict: "fail", detail: `${where} refused the configured key`, remedy: `add the public key to ~${host.user}/.ssh/authorized_keys on ${host.name}, or fix hosts[].sshKey` };
    return { host: host.name, check, verdict: "fail", detail: `cannot connect to ${where}: ${e.code ?? e.message}`, remedy: "check the address, that sshd runs, and that no firewall blocks the port" };
  }
  return {
    remote: async (command) => {
      const r = await ssh.execCommand(command);
      return { stdout: r.stdout, stderr: r.stderr, code: r.code };
    },
    close: () => ssh.dispose(),
  };
}
