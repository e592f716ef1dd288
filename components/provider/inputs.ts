// Reading a provider's inputs: every field checked for its type, each problem reported with its
// property path, as Pulumi's check failures.
import type { CheckFailure } from "@pulumi/pulumi/provider/index.js";

/**
 * How the engine passes a value not known yet (a preview, before the resource it comes from
 * exists): such a value is not checked here; the engine checks again once it is known.
 */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export class InputReader {
  constructor(
    private readonly values: Record<string, unknown>,
    private readonly prefix = "",
    /** Shared with nested readers, so one list holds every problem. */
    readonly failures: CheckFailure[] = [],
  ) {}

  private fail(property: string, reason: string): undefined {
    this.failures.push({ property: `${this.prefix}${property}`, reason });
    return undefined;
  }

  string(property: string, required: true): string;
  string(property: string, required?: false): string | undefined;
  string(property: string, required = false): string | undefined {
    const value = this.values[property];
    if (value === UNKNOWN) return undefined;
    if (value === undefined || value === null) return required ? this.fail(property, "is required") : undefined;
    return typeof value === "string" ? value : this.fail(property, "must be a string");
  }

  integer(property: string, min: number, max: number): number | undefined {
    const value = this.values[property];
    if (value === UNKNOWN) return undefined;
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
      return this.fail(property, `must be a whole number from ${min} to ${max}`);
    return value;
  }

  boolean(property: string): boolean | undefined {
    const value = this.values[property];
    if (value === UNKNOWN) return undefined;
    if (value === undefined || value === null) return undefined;
    return typeof value === "boolean" ? value : this.fail(property, "must be true or false");
  }

  object(property: string): InputReader | undefined {
    const value = this.values[property];
    if (value === UNKNOWN) return undefined;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return this.fail(property, "must be an object");
    return new InputReader(value as Record<string, unknown>, `${this.prefix}${property}.`, this.failures);
  }
}
