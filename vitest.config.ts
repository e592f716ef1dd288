import { defineConfig } from "vitest/config";

// One suite: unit tests sit beside the code (`*.test.ts`); tests of more than one unit (the program
// under mocks, real runtimes, root, namespaces, SSH test hosts, the engine) are `*.integration.test.ts`,
// most of them under tests/.
export default defineConfig({
  test: {
    include: [
      "components/**/*.test.ts",
      "node-runtime/**/*.test.ts",
      "cli/**/*.test.ts",
      "scripts/**/*.test.ts",
      "experiments/**/*.test.ts",
      "tests/**/*.test.ts",
      "*.test.ts",
    ],
    // Real-Firecracker tests need KVM: firecracker-nested.integration.test.ts runs them in the nested machine.
    exclude: ["**/node_modules/**", "tests/**/*.kvm.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // One file at a time: integration files share kernel-wide state that names cannot separate
    // (the test hosts' machine-wide sysctls, which one file's destroy restores while another file
    // re-runs its steps; the test-host bridge and apt proxy), and two cores is all CI has anyway.
    fileParallelism: false,
  },
});
