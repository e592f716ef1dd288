import { describe, expect, it } from "vitest";
import { MAX_VM_NAME_LENGTH, buildVmmCommand, checkInstanceId, checkSocketPathRoom, jailRoot, vmName } from "./vm-layout.js";

const jailer = { kind: "jailer" as const, jailerBin: "/usr/local/bin/jailer", uid: 10000, gid: 10000, chrootBaseDir: "/srv/jailer" };

describe("VMM command and jail layout", () => {
  it("direct mode: firecracker in the slot namespace, cwd = the VM directory, absolute API socket", () => {
    const root = jailRoot({ kind: "direct" }, "/run/vhfc", "fn-1", "/usr/bin/firecracker");
    expect(root).toBe("/run/vhfc/fn-1");
    expect(buildVmmCommand({ mode: { kind: "direct" }, firecrackerBin: "/usr/bin/firecracker", instanceId: "fn-1", root, netns: "vhnet-3" })).toEqual({
      file: "ip",
      args: ["netns", "exec", "vhnet-3", "/usr/bin/firecracker", "--api-sock", "/run/vhfc/fn-1/api.socket", "--id", "fn-1"],
      cwd: "/run/vhfc/fn-1",
    });
  });

  it("jailer mode: the jailer's chroot layout, uid/gid, --netns and the socket inside the chroot", () => {
    const root = jailRoot(jailer, "/unused", "fn-1", "/opt/fc/firecracker");
    expect(root).toBe("/srv/jailer/firecracker/fn-1/root");
    const cmd = buildVmmCommand({ mode: jailer, firecrackerBin: "/opt/fc/firecracker", instanceId: "fn-1", root, netns: "vhnet-3" });
    expect(`${cmd.file} ${cmd.args.join(" ")}`).toMatchInlineSnapshot(
      `"/usr/local/bin/jailer --id fn-1 --exec-file /opt/fc/firecracker --uid 10000 --gid 10000 --chroot-base-dir /srv/jailer --netns /var/run/netns/vhnet-3 -- --api-sock /api.socket"`,
    );
  });

  it("accepts the orchestrator's ids and names their VMs with the jailer's alphabet, in bounded length", () => {
    expect(() => checkInstanceId("fn-1")).not.toThrow();
    expect(() => checkInstanceId("fn_1.a")).not.toThrow();
    expect(() => checkInstanceId("bad id!")).toThrow(/instanceId/);
    expect(() => checkInstanceId("x".repeat(65))).toThrow(/instanceId/);
    expect(vmName("fn-1")).toBe("fn-1");
    const long = `helloworld-00001-${"a".repeat(38)}-0123abcd`;
    for (const id of ["fn_1.a", long, "y".repeat(25)]) {
      expect(vmName(id)).toMatch(/^[A-Za-z0-9-]+$/);
      expect(vmName(id).length).toBeLessThanOrEqual(MAX_VM_NAME_LENGTH);
    }
    expect(vmName(long)).not.toBe(vmName(`${long.slice(0, -1)}e`));
    expect(vmName("fn_1.a")).toMatch(/^fn-1-a-[0-9a-f]{16}$/);
  });

  it("checks at start that every VM's sockets fit in a Unix socket address, naming the setting to shorten", () => {
    expect(() => checkSocketPathRoom({ kind: "direct" }, "/var/lib/vhive-node/runtime/firecracker/vms", "/usr/local/bin/firecracker")).not.toThrow();
    expect(() => checkSocketPathRoom(jailer, "/unused", "/usr/local/bin/firecracker")).not.toThrow();
    expect(() => checkSocketPathRoom({ kind: "direct" }, `/${"d".repeat(80)}`, "/usr/local/bin/firecracker")).toThrow(
      /socket paths would be 119 bytes .* more than the 107 .*: use a shorter runDir/,
    );
    expect(() => checkSocketPathRoom({ ...jailer, chrootBaseDir: `/${"j".repeat(60)}` }, "/unused", "/usr/local/bin/firecracker")).toThrow(
      /use a shorter jailer.chrootBaseDir/,
    );
  });
});
