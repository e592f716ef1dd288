import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../config/runtime-config.js";
import type { ImageStore } from "../images/types.js";
import { createSandboxDriver } from "./sandbox-factories.js";

describe("createSandboxDriver", () => {
  it("refuses Firecracker without its binary and kernel, naming what is missing", async () => {
    const config = parseRuntimeConfig({ firecrackerBin: "/nonexistent/firecracker", firecrackerKernel: "/nonexistent/vmlinux" });
    await expect(createSandboxDriver("firecracker", { images: {} as ImageStore, config, logger: pino({ level: "silent" }) })).rejects.toThrow(
      /sandbox firecracker: firecrackerBin \/nonexistent\/firecracker does not exist/,
    );
  });

  it("builds Firecracker from the config's jailer settings, JAILER_BIN standing in for an unset bin", async () => {
    const config = parseRuntimeConfig({ firecrackerBin: "/bin/true", firecrackerKernel: "/bin/true", firecrackerJailer: { uid: 10000, gid: 10000 } });
    const saved = process.env.JAILER_BIN;
    process.env.JAILER_BIN = "/nonexistent/jailer-from-env";
    try {
      await expect(createSandboxDriver("firecracker", { images: {} as ImageStore, config, logger: pino({ level: "silent" }) })).rejects.toThrow(
        /sandbox firecracker: jailer.bin \/nonexistent\/jailer-from-env does not exist/,
      );
    } finally {
      if (saved === undefined) delete process.env.JAILER_BIN;
      else process.env.JAILER_BIN = saved;
    }
  });

  it("needs the node's LocalImageStore for containerd", async () => {
    await expect(
      createSandboxDriver("containerd", { images: {} as ImageStore, config: parseRuntimeConfig({}), logger: pino({ level: "silent" }) }),
    ).rejects.toThrow(/containerd driver needs the node's LocalImageStore/);
  });
});
