import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RegistryClient } from "./registry-client.js";
import { registryOptionsFrom } from "./registry-credentials.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function scratch(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "vhimg-cred-"));
  dirs.push(d);
  return d;
}

describe("registry credentials from the runtime config", () => {
  it("reads each password from its file, without the file's final newline", async () => {
    const d = await scratch();
    await writeFile(path.join(d, "pw"), "tok-123\n");
    const opts = await registryOptionsFrom({ registryCredentials: { "registry.example:5000": { username: "bot", passwordFile: path.join(d, "pw") } } });
    expect(opts.credentials).toEqual({ "registry.example:5000": { username: "bot", password: "tok-123" } });
    expect(opts.dockerConfigPath).toBeUndefined();
  });

  it("fails at start naming the setting and file, never quoting what the file holds", async () => {
    const d = await scratch();
    const secret = "hunter2-do-not-print";
    await writeFile(path.join(d, "auth.json"), `{"auths": ${secret}}`);
    await writeFile(path.join(d, "empty"), "\n");
    const bad = registryOptionsFrom({ registryAuthFile: path.join(d, "auth.json") });
    await expect(bad).rejects.toThrow(/^registryAuthFile: .*auth\.json is not valid JSON$/);
    await expect(bad).rejects.not.toThrow(secret);
    await expect(registryOptionsFrom({ registryCredentials: { r: { username: "u", passwordFile: path.join(d, "missing") } } })).rejects.toThrow(
      /^registryCredentials\.r\.passwordFile: cannot read .*missing \(ENOENT\)$/,
    );
    await expect(registryOptionsFrom({ registryCredentials: { r: { username: "u", passwordFile: path.join(d, "empty") } } })).rejects.toThrow(/empty/);
  });

  it("the registry client, too, reports a broken Docker config without quoting it", async () => {
    const d = await scratch();
    const secret = "hunter2-do-not-print";
    await writeFile(path.join(d, "config.json"), `{"auths": {"127.0.0.1:1": {"auth": ${secret}}}}`);
    const client = new RegistryClient({ dockerConfigPath: path.join(d, "config.json") });
    // Only the credential lookup matters here; it runs when a registry asks for them.
    const lookup = () => (client as unknown as { credentialsFor(r: string): unknown }).credentialsFor("127.0.0.1:1");
    expect(lookup).toThrow(/config\.json is not valid JSON$/);
    expect(lookup).not.toThrow(secret);
  });
});
