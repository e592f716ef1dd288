import { describe, expect, it } from "vitest";
import { SandboxError, SandboxExitedError, SandboxHostError, SandboxStateError, SandboxTimeoutError } from "../sandbox/errors.js";
import { RuntimeError, classifyDriverError } from "./errors.js";

describe("classifyDriverError", () => {
  it("files a driver's failure under the code its error class carries, keeping its message", () => {
    const timeout = classifyDriverError(
      new SandboxTimeoutError("the function did not listen on port 50052 within 15000 ms"),
      "sandbox gvisor could not start instance a",
    );
    expect(timeout).toMatchObject({
      code: "DEADLINE_EXCEEDED",
      message: "sandbox gvisor could not start instance a: the function did not listen on port 50052 within 15000 ms",
    });
    expect(classifyDriverError(new SandboxExitedError("the function exited with code 1 before listening"), "x").code).toBe("UNAVAILABLE");
    expect(classifyDriverError(new SandboxStateError("instance a is already running"), "x").code).toBe("FAILED_PRECONDITION");
    expect(classifyDriverError(new SandboxHostError("runsc create: permission denied"), "x").code).toBe("INTERNAL");
    const kept = new RuntimeError("NOT_FOUND", "gone");
    expect(classifyDriverError(kept, "x")).toBe(kept);
  });

  it("reads no message text: a plain error that says 'timed out' is still INTERNAL", () => {
    expect(classifyDriverError(new Error("timed out waiting; the process exited"), "x").code).toBe("INTERNAL");
  });

  it("keeps the class when a driver adds context to an error", () => {
    const wrapped = SandboxError.withContext(new SandboxTimeoutError("no socket within 10 ms"), "gVisor boot of instance a failed");
    expect(wrapped).toBeInstanceOf(SandboxTimeoutError);
    expect(wrapped.message).toBe("gVisor boot of instance a failed: no socket within 10 ms");
    expect(SandboxError.withContext(new Error("EACCES"), "step")).toBeInstanceOf(SandboxHostError);
  });
});
