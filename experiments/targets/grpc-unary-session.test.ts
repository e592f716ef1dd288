import { describe, expect, it } from "vitest";
import { grpcTimeout } from "./grpc-unary-session.js";

describe("grpc-timeout header", () => {
  it("is whole milliseconds up to 8 digits, then seconds", () => {
    expect(grpcTimeout(0.2)).toBe("1m");
    expect(grpcTimeout(5000)).toBe("5000m");
    expect(grpcTimeout(99_999_999)).toBe("99999999m");
    expect(grpcTimeout(100_000_000)).toBe("100000S");
    expect(grpcTimeout(1e15)).toBe("99999999S");
  });
});
