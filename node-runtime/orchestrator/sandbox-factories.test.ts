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

  it("needs the node's LocalImageStore for containerd", async () => {
    await expect(createSandboxDriver("containerd", { images: {} as ImageStore, config: parseRuntimeConfig({}), logger: pino({ level: "silent" }) })).rejects.toThrow(
      /containerd driver needs the node's LocalImageStore/,
    );
  });
});
