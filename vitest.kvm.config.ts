import { defineConfig } from "vitest/config";

// The real-Firecracker suite (`*.kvm.test.ts`): it needs /dev/kvm, so the main suite runs it inside
// the nested-KVM machine (tests/sandbox/firecracker-nested.integration.test.ts); on a host with KVM it runs
// directly: `npx vitest run --config vitest.kvm.config.ts` with FIRECRACKER_BIN and FIRECRACKER_KERNEL.
export default defineConfig({
  test: {
    include: ["tests/**/*.kvm.test.ts"],
    exclude: ["**/node_modules/**"],
    pool: "forks",
    testTimeout: 600_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
