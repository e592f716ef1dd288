import { defineConfig } from "vitest/config";

// One suite: unit tests sit beside the code (`*.test.ts`), integration tests that need
// root, namespaces, containerd, runsc or SSH test hosts live under tests/.
export default defineConfig({
  test: {
    include: ["components/**/*.test.ts", "node-runtime/**/*.test.ts", "cli/**/*.test.ts", "tests/**/*.test.ts", "*.test.ts"],
    exclude: ["**/node_modules/**"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Integration files take host-wide resources (netns names, bridges); each names them uniquely,
    // but two cores is all CI has, so keep concurrency modest.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
