// The apt proxy URL becomes an apt.conf value: it must never add a setting of its own.
import { describe, expect, it } from "vitest";
import { aptProxyBodies } from "./apt-proxy.js";

describe("apt proxy step", () => {
  it("writes the checked URL only", () => {
    expect(aptProxyBodies("http://192.0.2.1:3142").create).toContain('Acquire::http::Proxy "http://192.0.2.1:3142";');
  });

  it("refuses a value that would add apt settings", () => {
    expect(() => aptProxyBodies('http://127.0.0.1:3142/";\nAcquire::https::Verify-Peer "false')).toThrow(/^aptProxy: /);
    expect(() => aptProxyBodies("http://127.0.0.1:3142\n")).toThrow(/^aptProxy: /);
  });
});
