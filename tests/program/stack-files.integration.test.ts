import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackConfig } from "#components/program/load-config.js";
import { REPO, PROJECT, stackConfigMap, TEST_SECRETS } from "./mocked-program.js";

const stacks = readdirSync(join(REPO, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined);

describe("stack files", () => {
  it("are the six documented stacks", () => {
    expect(stacks.sort()).toEqual(["baremetal", "ci", "cloudvm", "dev", "openyurt", "playground"]);
  });
  for (const stack of stacks) {
    it(`${stack}: has a mock test of the program and a docs page`, () => {
      expect(existsSync(join(REPO, "tests", "program", `${stack}.integration.test.ts`))).toBe(true);
      expect(existsSync(join(REPO, "docs", "stacks", `${stack}.md`))).toBe(true);
    });
    it(`${stack}: validates (with its referenced secrets set)`, () => {
      const map = stackConfigMap(stack);
      for (const key of Object.keys(TEST_SECRETS))
        if (Object.values(map).some((v) => v.includes(`"secret":"${key}"`))) map[`${PROJECT}:${key}`] = TEST_SECRETS[key]!;
      expect(() => loadStackConfig(map, PROJECT)).not.toThrow();
    });
    it(`${stack}: holds no private key or credential in clear text`, () => {
      const text = JSON.stringify(stackConfigMap(stack));
      expect(text).not.toMatch(/PRIVATE KEY|password|secretKey":"[^{]/i);
    });
  }
  it("openyurt: reports its secrets as missing until they are set", () => {
    expect(() => loadStackConfig(stackConfigMap("openyurt"), PROJECT)).toThrow(
      'hosts[0].sshKey: config key "sshPrivateKey" is not set (pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519)',
    );
  });
});
