// Real network namespaces, veths, taps and iptables NAT on this host (root needed). Traffic goes
// only to clone IPs of namespaces this test creates. Names carry the `vhnt` prefix.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { NamespaceNetworkPool } from "#node-runtime/network/namespace-pool.js";
import type { NetworkSlot } from "#node-runtime/network/types.js";
import { createGuestNamespace, type GuestNamespace } from "./guest-namespace.js";
import { skipReason } from "../requirements.js";

const runnable = skipReason("namespace-pool.test", { root: "network namespaces and iptables" }) === undefined;

const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
const prefix = `vhnt${tag}`;
// This suite's address block: 10.151.<random>.0/24 (clone IPs in the low half, transit links above).
const octet = Math.floor(Math.random() * 256);
const PORT = 50051;

function sh(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: "utf8" });
}

/** Test-made "guest" (see guest-namespace.ts) plus a TCP listener on the guest IP. */
interface Guest {
  ns: GuestNamespace;
  server: ChildProcess;
}
const guests: Guest[] = [];

async function attachGuest(slot: NetworkSlot, answer: string): Promise<Guest> {
  const ns = await createGuestNamespace(slot, `${prefix}g${slot.index}`, true);
  const serverCode = [
    "import socket,sys",
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
    `s.bind(('${slot.guestIp}', ${PORT})); s.listen(8); print('ready', flush=True)`,
    "while True:",
    "  c,a=s.accept(); c.sendall((sys.argv[1]+' from '+a[0]+'\\n').encode()); c.close()",
  ].join("\n");
  const server = spawn("ip", ["netns", "exec", ns.netns, "python3", "-c", serverCode, answer], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((ok) => server.stdout!.once("data", () => ok()));
  const g = { ns, server };
  guests.push(g);
  return g;
}

function detachGuest(g: Guest): void {
  g.server.kill("SIGKILL");
  g.ns.close();
  guests.splice(guests.indexOf(g), 1);
}

function ask(host: string, port: number): Promise<string> {
  return new Promise((ok, fail) => {
    const sock = connect({ host, port, timeout: 5_000 });
    let text = "";
    sock.on("data", (d) => (text += d.toString()));
    sock.on("end", () => ok(text.trim()));
    sock.on("timeout", () => sock.destroy(new Error(`no answer from ${host}:${port}`)));
    sock.on("error", fail);
  });
}

function leftovers(): { netns: string[]; links: string[]; rules: string[]; routes: string[] } {
  const netns = sh("ip", ["netns", "list"])
    .split("\n")
    .filter((l) => l.includes(prefix));
  const links = sh("ip", ["-o", "link"])
    .split("\n")
    .filter((l) => l.includes(prefix));
  const rules = sh("iptables-save", [])
    .split("\n")
    .filter((l) => l.toLowerCase().includes(prefix));
  const routes = sh("ip", ["route"])
    .split("\n")
    .filter((l) => l.startsWith(`10.151.${octet}.`));
  return { netns, links, rules, routes };
}

describe.skipIf(!runnable)("NamespaceNetworkPool (real namespaces and NAT)", () => {
  let pool: NamespaceNetworkPool | undefined;

  afterAll(async () => {
    for (const g of [...guests]) detachGuest(g);
    await pool?.destroy();
  });

  it("builds 4 slots with the same tap, guest IP and MAC and distinct clone IPs", async () => {
    pool = await NamespaceNetworkPool.create({
      namePrefix: prefix,
      size: 4,
      cloneCidr: `10.151.${octet}.0/25`,
      transitCidr: `10.151.${octet}.128/25`,
      acquireTimeoutMs: 200,
      hostForwarding: true,
    });
    const slots = await Promise.all([0, 1, 2, 3].map(() => pool!.acquire()));
    expect(new Set(slots.map((s) => s.cloneIp)).size).toBe(4);
    expect(new Set(slots.map((s) => `${s.tapName}|${s.guestIp}|${s.guestMac}`)).size).toBe(1);
    for (const s of slots) {
      const inside = sh("ip", ["-n", s.netns, "-o", "addr", "show", "dev", s.tapName]);
      expect(inside).toContain(`${s.gatewayIp}/${s.prefixLength}`);
      expect(sh("ip", ["netns", "exec", s.netns, "iptables-save", "-t", "nat"])).toMatch(
        new RegExp(`-A PREROUTING -d ${s.cloneIp}/32 .*-j DNAT --to-destination ${s.guestIp}`),
      );
    }
    await expect(pool.acquire()).rejects.toThrow(/exhausted/);
    for (const s of slots) await pool.release(s);
    expect(pool.available).toBe(4);
  });

  it("reaches two guests at once through their clone IPs", async () => {
    const a = await pool!.acquire();
    const b = await pool!.acquire();
    await attachGuest(a, `guest-${a.index}`);
    await attachGuest(b, `guest-${b.index}`);
    const [ra, rb] = await Promise.all([ask(a.cloneIp, PORT), ask(b.cloneIp, PORT)]);
    // Each clone IP lands in its own namespace, on the same guest address.
    expect(ra).toMatch(new RegExp(`^guest-${a.index} from 10\\.151\\.${octet}\\.`));
    expect(rb).toMatch(new RegExp(`^guest-${b.index} from 10\\.151\\.${octet}\\.`));
    for (const g of [...guests]) detachGuest(g);
    await pool!.release(a);
    await pool!.release(b);
  });

  it("recycles a released slot without rebuilding it, and it still works", async () => {
    const first = await pool!.acquire();
    const tapIndex = sh("ip", ["-n", first.netns, "-o", "link", "show", first.tapName]).split(":")[0];
    await pool!.release(first);
    // Drain the pool until the same slot comes back.
    const taken: NetworkSlot[] = [];
    let again = await pool!.acquire();
    while (again.index !== first.index) {
      taken.push(again);
      again = await pool!.acquire();
    }
    expect(sh("ip", ["-n", again.netns, "-o", "link", "show", again.tapName]).split(":")[0]).toBe(tapIndex);
    await attachGuest(again, "recycled");
    expect(await ask(again.cloneIp, PORT)).toMatch(/^recycled from /);
    for (const g of [...guests]) detachGuest(g);
    for (const s of [...taken, again]) await pool!.release(s);
  });

  it("hands a released slot to a waiting acquire", async () => {
    const all = await Promise.all([0, 1, 2, 3].map(() => pool!.acquire()));
    const waiting = pool!.acquire();
    await pool!.release(all[2]!);
    expect((await waiting).index).toBe(all[2]!.index);
    for (const s of all) await pool!.release(s);
  });

  it("refuses address ranges that overlap routes already on the host", async () => {
    const clash = NamespaceNetworkPool.create({ namePrefix: `${prefix}x`, size: 1, cloneCidr: `10.151.${octet}.0/26`, transitCidr: "10.156.0.0/30" });
    await expect(clash).rejects.toThrow(new RegExp(`cloneCidr 10\\.151\\.${octet}\\.0/26 overlaps the host route "10\\.151\\.${octet}\\.\\d+ via`));
    expect(leftovers().netns.filter((n) => n.includes(`${prefix}x`))).toEqual([]);
  });

  it("destroy() leaves no namespace, link, route or iptables rule behind", async () => {
    expect(leftovers().netns.length).toBe(4);
    expect(leftovers().rules.length).toBeGreaterThan(0);
    await pool!.destroy();
    pool = undefined;
    expect(leftovers()).toEqual({ netns: [], links: [], rules: [], routes: [] });
  });

  it("refuses bad layouts with the field's name", async () => {
    await expect(NamespaceNetworkPool.create({ namePrefix: prefix, size: 2, guestIp: "172.16.0.300" })).rejects.toThrow(/guestIp/);
    await expect(NamespaceNetworkPool.create({ namePrefix: "vhntwaytoolongname", size: 2 })).rejects.toThrow(/15 characters/);
    await expect(NamespaceNetworkPool.create({ namePrefix: prefix, size: 2, guestMac: "03:00:00:00:00:01" })).rejects.toThrow(/guestMac/);
    expect(leftovers().netns).toEqual([]);
  });
});
