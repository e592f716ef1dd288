// The test hosts themselves: the script is shellcheck clean; an nspawn host is a booted Debian
// with systemd, its own name and address, key-only sshd, no route off the bridge and packages
// through the proxy only; the chroot fallback works and says so; removal leaves nothing behind.
import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { APT_PROXY, SCRIPT, downHosts, hostExec, privateKey, unavailableReason, upHosts } from "./test-hosts.js";
import { runRemote } from "#components/provider/ssh.js";

const skip = unavailableReason();
if (skip) console.log(`test-host tests skipped: ${skip}`);

describe("testhosts.sh", () => {
  it("is bash -n and shellcheck clean", () => {
    expect(spawnSync("bash", ["-n", SCRIPT]).status).toBe(0);
    const check = spawnSync("shellcheck", [SCRIPT], { encoding: "utf8" });
    expect(check.stdout).toBe("");
    expect(check.status).toBe(0);
  });
});

describe.skipIf(skip !== undefined)("test hosts", () => {
  afterAll(() => downHosts([3, 4]), 600_000);

  it("an nspawn host: systemd PID 1, own name and address, key-only sshd, packages only via the proxy", async () => {
    const [host] = await upHosts([3]);
    expect(host).toMatchObject({ name: "vht-3", address: "10.231.0.103", mode: "nspawn", user: "vhive" });
    const target = { host: host!.address, port: 22, user: host!.user, privateKey: privateKey(host!), hostKey: host!.hostKey };
    const who = await runRemote(target, "hostname; ps -p 1 -o comm=; systemctl is-system-running; sudo -n true && echo sudo-ok");
    expect(who.stdout.split("\n").slice(0, 4)).toEqual(["vht-3", "systemd", "running", "sudo-ok"]);
    // No route leaves the bridge (asked of the routing table; nothing is sent).
    expect(hostExec(3, "ip route get 192.0.2.1 2>&1 || true")).toMatch(/unreachable/);
    expect(hostExec(3, "ip -4 -o addr show host0")).toContain("10.231.0.103/24");
    // The proxy answers on the bridge and apt works through it.
    const apt = hostExec(3, `apt-get -o Acquire::http::Proxy=${APT_PROXY} update -qq && apt-cache policy sudo | grep -c Installed`);
    expect(apt.trim()).toBe("1");
    // Password logins are refused outright.
    const sshd = hostExec(3, "sshd -T | grep -E '^(passwordauthentication|kbdinteractiveauthentication) '");
    expect(sshd).toContain("passwordauthentication no");
    expect(hostExec(3, "test -e /usr/sbin/policy-rc.d && echo present || echo absent").trim()).toBe("absent");
  }, 300_000);

  it("the chroot fallback: sshd in a network namespace, mode says chroot, nothing left after removal", async () => {
    const [host] = await upHosts([4], { forceChroot: true });
    expect(host).toMatchObject({ name: "vht-4", mode: "chroot" });
    const target = { host: host!.address, port: 22, user: host!.user, privateKey: privateKey(host!), hostKey: host!.hostKey };
    expect((await runRemote(target, "echo reachable")).stdout).toBe("reachable\n");
    await downHosts([4]);
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toMatch(/\bvht-4\b/);
    expect(execFileSync("findmnt", ["-rn", "-o", "TARGET"], { encoding: "utf8" })).not.toContain("/vht-4/");
  }, 300_000);
});
