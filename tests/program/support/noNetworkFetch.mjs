// Test double preloaded into node (NODE_OPTIONS=--import) by upScript.test.ts: stands in for a
// machine that cannot reach the Pulumi download site. Every fetch fails the way undici reports an
// unreachable host, and no packet leaves the machine.
globalThis.fetch = async () => {
  throw new TypeError("fetch failed");
};
