import { describe, expect, it } from "vitest";
import { buildBootArgs, DEFAULT_BASE_BOOT_ARGS, prefixToNetmask } from "./boot-args.js";
import { buildGuestConfig } from "./guest-config.js";
import { buildInjectScript } from "./rootfs.js";

const slot = {
  index: 0,
  netns: "n",
  tapName: "tap0",
  guestIp: "172.16.0.2",
  guestMac: "02:fc:00:00:00:01",
  gatewayIp: "172.16.0.1",
  prefixLength: 30,
  cloneIp: "10.210.0.1",
};

describe("kernel command line", () => {
  it("adds our init, the writable layer's device and the guest address in ip= syntax", () => {
    expect(buildBootArgs(DEFAULT_BASE_BOOT_ARGS, slot, "fn-1")).toBe(
      `${DEFAULT_BASE_BOOT_ARGS} init=/.vhfc/init vhfc.rw=vdb ip=172.16.0.2::172.16.0.1:255.255.255.252:fn-1:eth0:off`,
    );
  });

  it("converts prefix lengths", () => {
    expect([0, 8, 24, 30, 32].map(prefixToNetmask)).toEqual(["0.0.0.0", "255.0.0.0", "255.255.255.0", "255.255.255.252", "255.255.255.255"]);
    expect(() => prefixToNetmask(33)).toThrow(/prefixLength/);
  });
});

describe("guest config", () => {
  it("writes argv (entrypoint then cmd), env with overrides, cwd and user, escaped", () => {
    const text = buildGuestConfig(
      { entrypoint: ["/bin/sh", "-c"], cmd: ["echo a\\b\nc"], env: ["PATH=/bin", "A=1"], workingDir: "/app", user: "app:app" },
      { A: "2" },
    );
    expect(text).toBe("arg /bin/sh\narg -c\narg echo a\\\\b\\nc\nenv PATH=/bin\nenv A=2\ncwd /app\nuser app:app\n");
  });

  it("refuses an image with nothing to run and malformed env", () => {
    expect(() => buildGuestConfig({ entrypoint: [], cmd: [], env: [], workingDir: "", user: "" })).toThrow(/neither Entrypoint nor Cmd/);
    expect(() => buildGuestConfig({ entrypoint: ["x"], cmd: [], env: ["NOEQUALS"], workingDir: "", user: "" })).toThrow(/KEY=VALUE/);
  });
});

describe("init injection script", () => {
  it("replaces init and config in place", () => {
    expect(buildInjectScript("/cache/vhfc-init-abc", "/run/vm/guest-config")).toMatchSnapshot();
  });
});
