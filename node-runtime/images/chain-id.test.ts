import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chainId } from "./chain-id.js";

const d = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

describe("chainId", () => {
  it("is the diff_id for one layer and folds sha256(parent + ' ' + diff_id) after that", () => {
    expect(chainId([d("a")])).toBe(d("a"));
    expect(chainId([d("a"), d("b")])).toBe(d(`${d("a")} ${d("b")}`));
    expect(chainId([d("a"), d("b"), d("c")])).toBe(d(`${d(`${d("a")} ${d("b")}`)} ${d("c")}`));
  });

  it("refuses an empty layer list", () => {
    expect(() => chainId([])).toThrow("no chain ID");
  });
});
