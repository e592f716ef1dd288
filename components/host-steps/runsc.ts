// gVisor from its release files, on hosts that run gVisor sandboxes (with Debian as the package
// source, runsc comes with the packages step). Before containerd, whose config names it.
import { lines } from "../scripts/shell.js";
import { cachedArtifactPath, downloadArtifact } from "./download.js";
import { hostStep } from "./host-step.js";

export const runscStep = hostStep({
  name: "runsc",
  after: ["packages"],
  when: ({ config, plan }) => config.sandbox === "gvisor" && plan.runsSandbox && config.packages.source !== "debian",
  build: ({ config }) => {
    const runsc = cachedArtifactPath(config, "runsc");
    const shim = cachedArtifactPath(config, "runscShim");
    return {
      create: lines(
        downloadArtifact(config, "runsc", runsc),
        downloadArtifact(config, "runscShim", shim),
        `install_binary "${runsc}" /usr/local/bin/runsc`,
        `install_binary "${shim}" /usr/local/bin/containerd-shim-runsc-v1`,
      ),
      delete: lines(`remove_recorded_files runsc`, `remove_path "${runsc}" "${shim}"`),
    };
  },
});
