import { describe, expect, it } from "vitest";
import { RuntimeError, classifyDriverError } from "./errors.js";

describe("classifyDriverError", () => {
  it("files a driver's start failure under the code callers act on, keeping its message", () => {
    const timeout = classifyDriverError(new Error("the function did not listen on port 50052 within 15000 ms"), "sandbox gvisor could not start instance a");
    expect(timeout).toMatchObject({ code: "DEADLINE_EXCEEDED", message: "sandbox gvisor could not start instance a: the function did not listen on port 50052 within 15000 ms" });
    expect(classifyDriverError(new Error("the function exited with code 1 before listening"), "x").code).toBe("UNAVAILABLE");
    expect(classifyDriverError(new Error("runsc create: permission denied"), "x").code).toBe("INTERNAL");
    const kept = new RuntimeError("NOT_FOUND", "gone");
    expect(classifyDriverError(kept, "x")).toBe(kept);
  });
});
