// Values written into systemd units: a path can never add a line or a word to the unit.
import { describe, expect, it } from "vitest";
import { serveConfigFromArgs } from "#node-runtime/cli/serve-command.js";
import { nodeRuntimeServeArgs, nodeRuntimeUnit, unitArg, unitPath } from "./units.js";

const base = { installDir: "/opt/vhive-node-runtime", nodeBinary: "/opt/vhive-node/bin/node", sandbox: "gvisor", snapshots: "off", healthPort: 10990 };

describe("node runtime unit", () => {
  it("writes the install directory and command line as plain words", () => {
    const unit = nodeRuntimeUnit(base);
    expect(unit).toContain("\nWorkingDirectory=/opt/vhive-node-runtime\n");
    expect(unit).toContain(
      "\nExecStart=/opt/vhive-node/bin/node node-runtime/cli/main.js serve --sandbox gvisor --snapshot-mode off --metrics-port 10990 --data-dir /var/lib/vhive-node/runtime\n",
    );
  });

  it("writes a command line that serve's own parser takes, with each gVisor sandbox in a network namespace of its own", async () => {
    const [command, ...flags] = nodeRuntimeServeArgs({ ...base, apiPort: 50051, gvisorNetwork: "netns" });
    expect(command).toBe("serve");
    const gvisor = await serveConfigFromArgs(flags);
    expect(gvisor).toMatchObject({ sandbox: "gvisor", snapshotMode: "off", metricsPort: 10990, gvisorNetwork: "netns", port: 50051, host: "0.0.0.0" });
    const firecracker = await serveConfigFromArgs(
      nodeRuntimeServeArgs({ ...base, sandbox: "firecracker", snapshots: "reap", criSocket: "unix:///run/vhive-node/cri.sock" }).slice(1),
    );
    expect(firecracker).toMatchObject({ sandbox: "firecracker", snapshotMode: "reap", criSocket: "/run/vhive-node/cri.sock", gvisorNetwork: "none" });
  });

  it("refuses an install directory that would add a line or break the unit", () => {
    expect(() => nodeRuntimeUnit({ ...base, installDir: "/opt/x\nExecStartPre=/bin/rm -rf /" })).toThrow(
      "nodeRuntime.installDir: not usable in a systemd unit (only letters, digits and . _ / + - are allowed)",
    );
    expect(() => nodeRuntimeUnit({ ...base, installDir: "/opt/v hive" })).toThrow(/nodeRuntime\.installDir/);
    expect(() => nodeRuntimeUnit({ ...base, installDir: "/opt/%h" })).toThrow(/nodeRuntime\.installDir/);
  });

  it("quotes ExecStart words systemd would split or expand", () => {
    expect(unitArg("--sandbox")).toBe("--sandbox");
    expect(unitArg("a b")).toBe('"a b"');
    expect(unitArg('say "hi" \\ $HOME 100%')).toBe('"say \\"hi\\" \\\\ $$HOME 100%%"');
    expect(() => unitArg("a\nb")).toThrow(/line breaks/);
    expect(() => unitPath("x", "relative")).toThrow(/x: not usable/);
  });
});
