// Validates Firecracker API requests against the official swagger spec (v1.13.1 or v1.16.1, found
// through tests/upstream-specs.ts): part of the Firecracker API test double.
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import type { FirecrackerApiVersion } from "#node-runtime/sandbox/firecracker/api-types.js";
import { unmetNeeds } from "#tests/requirements.js";
import { firecrackerSpec, upstreamSpecPath } from "#tests/upstream-specs.js";

export function specPath(version: FirecrackerApiVersion): string {
  return upstreamSpecPath(firecrackerSpec(version));
}

interface Operation {
  /** Path template from the spec, e.g. `/drives/{drive_id}`. */
  template: string;
  matcher: RegExp;
  method: string;
  bodyRequired: boolean;
  validate?: ValidateFunction;
}

export type Match = { ok: true; template: string; params: Record<string, string> } | { ok: false; status: 400; faultMessage: string };

/**
 * Firecracker deserialises bodies with serde's `deny_unknown_fields`: a field the spec does not
 * define is refused. The spec leaves `additionalProperties` open, so we close every object that
 * does not say otherwise; that is what makes a v1.16.1-only field fail against v1.13.1.
 */
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") out[k] = v.replace("#/definitions/", "fc#/definitions/");
    else out[k] = closeObjects(v);
  }
  // The MMDS address "format" is really a regular expression: check it as one.
  if (typeof out.format === "string" && out.format !== "int32" && out.format !== "int64") {
    out.pattern = `^${out.format}$`;
    delete out.format;
  }
  if (out.type === "object" && out.properties !== undefined && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  // Draft-07 ignores keywords beside $ref (the spec puts descriptions there): keep only the ref.
  if (typeof out.$ref === "string") return { $ref: out.$ref };
  return out;
}

export class FirecrackerSpec {
  readonly version: FirecrackerApiVersion;
  private readonly operations: Operation[] = [];

  constructor(version: FirecrackerApiVersion) {
    this.version = version;
    const missing = unmetNeeds({ specs: [firecrackerSpec(version)] });
    if (missing.length > 0) throw new Error(`Firecracker API double: ${missing.join("; ")}`);
    const doc = parse(readFileSync(specPath(version), "utf8")) as {
      info: { version: string };
      paths: Record<string, Record<string, { parameters?: { in: string; required?: boolean; schema?: unknown }[] }>>;
      definitions: Record<string, unknown>;
    };
    if (doc.info.version !== version) {
      throw new Error(`spec file ${specPath(version)} declares version ${doc.info.version}, expected ${version}`);
    }
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
    ajv.addSchema({ $id: "fc", definitions: closeObjects(doc.definitions) });
    for (const [template, methods] of Object.entries(doc.paths)) {
      const pattern = template.replace(/\{[^}]+\}/g, "([^/]+)");
      const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? "");
      for (const [method, op] of Object.entries(methods)) {
        const body = op.parameters?.find((p) => p.in === "body");
        const operation: Operation = {
          template,
          matcher: new RegExp(`^${pattern}$`),
          method: method.toUpperCase(),
          bodyRequired: body?.required === true,
          validate: body?.schema === undefined ? undefined : ajv.compile(closeObjects(body.schema) as object),
        };
        Object.defineProperty(operation, "paramNames", { value: names });
        this.operations.push(operation);
      }
    }
  }

  /** Finds the operation for a request and validates its body; Firecracker-shaped refusal otherwise. */
  check(method: string, path: string, rawBody: string): Match & { body?: unknown } {
    const candidates = this.operations.filter((op) => op.matcher.test(path));
    const op = candidates.find((c) => c.method === method);
    if (op === undefined) {
      return { ok: false, status: 400, faultMessage: `Invalid request method and/or path: ${method} ${path}.` };
    }
    const names = (op as Operation & { paramNames: string[] }).paramNames;
    const values = op.matcher.exec(path)?.slice(1) ?? [];
    const params: Record<string, string> = {};
    for (const [i, n] of names.entries()) params[n] = decodeURIComponent(values[i] ?? "");
    let body: unknown;
    if (rawBody.trim().length === 0) {
      if (op.bodyRequired) return { ok: false, status: 400, faultMessage: "Empty request body." };
    } else {
      try {
        body = JSON.parse(rawBody);
      } catch (e) {
        return { ok: false, status: 400, faultMessage: `An error occurred when deserializing the json body of a request: ${(e as Error).message}` };
      }
      if (op.validate !== undefined && !op.validate(body)) {
        const why = (op.validate.errors ?? [])
          .map(
            (e) =>
              `${e.instancePath || "(body)"} ${e.message ?? "invalid"}${e.params && "additionalProperty" in e.params ? ` '${String(e.params.additionalProperty)}'` : ""}`,
          )
          .join("; ");
        return { ok: false, status: 400, faultMessage: `An error occurred when deserializing the json body of a request: ${why}` };
      }
    }
    return { ok: true, template: op.template, params, body };
  }
}
