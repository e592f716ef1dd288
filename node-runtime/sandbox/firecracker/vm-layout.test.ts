import { describe, expect, it } from "vitest";
import { buildVmmCommand, checkInstanceId, jailRoot } from "./vm-layout.js";

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

  it("accepts only ids the jailer accepts", () => {
    expect(() => checkInstanceId("fn-1")).not.toThrow();
    expect(() => checkInstanceId("fn_1")).toThrow(/instanceId/);
    expect(() => checkInstanceId("x".repeat(65))).toThrow(/instanceId/);
  });
});
