import { describe, expect, it } from "vitest";
import { bootstrapTokenStep } from "./bootstrap-token.js";
import { checkShellBatch } from "../scripts/check-shell.js";

const TOKEN = "abcdef.0123456789abcdef";

describe("bootstrap token made valid before a join", () => {
  const s = bootstrapTokenStep(TOKEN, "worker-2");

  it("writes the token's Secret through kubectl's stdin with an expiry an hour ahead", () => {
    expect(s.create).toContain("as_root kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f - >/dev/null <<VHIVE_BOOTSTRAP_TOKEN");
    expect(s.create).toContain("  name: bootstrap-token-abcdef\n");
    expect(s.create).toContain("  token-secret: 0123456789abcdef\n");
    expect(s.create).toContain(`expires="$(date -u -d "+1 hour" '+%Y-%m-%dT%H:%M:%SZ')"`);
    // The secret half appears only inside the here-document, never on a command line.
    for (const line of s.create.split("\n").filter((l) => l.includes("0123456789abcdef"))) expect(line).toBe("  token-secret: 0123456789abcdef");
  });

  it("is clean shell, and refuses a malformed token without showing it", () => {
    for (const result of checkShellBatch([s.create, s.delete])) expect(result).toEqual({ syntax: "", shellcheck: "" });
    expect(() => bootstrapTokenStep("abcdef.0123456789abcde$", "w")).toThrow(
      "bootstrap token: not of kubeadm's form [a-z0-9]{6}.[a-z0-9]{16} (value not shown)",
    );
    expect(() => bootstrapTokenStep(TOKEN, "Worker_2")).toThrow('worker name "Worker_2" is not a DNS label');
  });
});
