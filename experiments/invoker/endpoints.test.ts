import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseEndpoints, readEndpointsFile } from "./endpoints.js";

describe("endpoints.json", () => {
  it("reads vSwarm's format (as the Functions component writes it, tab-indented)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ep-"));
    const file = path.join(dir, "endpoints.json");
    await writeFile(
      file,
      JSON.stringify(
        [
          { hostname: "helloworld-0.default.192.168.1.240.sslip.io", eventing: false, matchers: null },
          { hostname: "chained.default.example.com", eventing: true, matchers: { type: "greeting", source: "producer" } },
        ],
        null,
        "\t",
      ),
    );
    expect(await readEndpointsFile(file)).toEqual([
      { hostname: "helloworld-0.default.192.168.1.240.sslip.io", eventing: false, matchers: null },
      { hostname: "chained.default.example.com", eventing: true, matchers: { type: "greeting", source: "producer" } },
    ]);
  });

  it("names the bad entry and field", () => {
    expect(() => parseEndpoints({ hostname: "a" }, "e.json")).toThrow("e.json: expected a JSON array of {hostname, eventing, matchers}, got object");
    expect(() => parseEndpoints([], "e.json")).toThrow(/empty/);
    expect(() => parseEndpoints([{ hostname: "a" }, "b"], "e.json")).toThrow(
      'e.json: entry 1: expected an object {hostname, eventing, matchers}, got the string "b"',
    );
    expect(() => parseEndpoints([{ hostname: "ok" }, { eventing: false }], "e.json")).toThrow(
      'e.json: entry 1: field "hostname" must be a non-empty string, got undefined',
    );
    expect(() => parseEndpoints([{ hostname: "a.b", eventing: "no" }], "e.json")).toThrow(
      'e.json: entry 0 (a.b): field "eventing" must be true or false, got the string "no"',
    );
    expect(() => parseEndpoints([{ hostname: "a.b", matchers: ["x"] }], "e.json")).toThrow(
      'entry 0 (a.b): field "matchers" must be an object of strings or null, got an array',
    );
    expect(() => parseEndpoints([{ hostname: "a.b", matchers: { n: 1 } }], "e.json")).toThrow('entry 0 (a.b): field "matchers.n" must be a string, got number');
    expect(() => parseEndpoints([{ hostname: "http://a.b:80" }], "e.json")).toThrow(/bare host name without scheme/);
    expect(() => parseEndpoints([{ hostname: "a", url: "x" }], "e.json")).toThrow('e.json: entry 0: unknown field "url"');
  });

  it("says when the file is missing or not JSON", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ep-"));
    await expect(readEndpointsFile(path.join(dir, "none.json"))).rejects.toThrow(/none\.json: cannot read the endpoints file: ENOENT/);
    await writeFile(path.join(dir, "bad.json"), "[{hostname: 'x'}]");
    await expect(readEndpointsFile(path.join(dir, "bad.json"))).rejects.toThrow(/bad\.json: not valid JSON/);
  });
});
