// vSwarm's endpoints.json: `[{hostname, eventing, matchers}]` (what the provisioner's Functions
// component writes). Every problem names the entry and the field.
import { readFile } from "node:fs/promises";

export interface Endpoint {
  hostname: string;
  eventing: boolean;
  matchers: Record<string, string> | null;
}

export class EndpointsError extends Error {
  override name = "EndpointsError";
}

const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? `the string ${JSON.stringify(v)}` : typeof v);

/** Validates parsed endpoints.json content; `source` names the file in messages. */
export function parseEndpoints(data: unknown, source = "endpoints.json"): Endpoint[] {
  if (!Array.isArray(data)) throw new EndpointsError(`${source}: expected a JSON array of {hostname, eventing, matchers}, got ${describe(data)}`);
  if (data.length === 0) throw new EndpointsError(`${source}: the array is empty; there is nothing to invoke`);
  return data.map((entry: unknown, i) => {
    const where = `${source}: entry ${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw new EndpointsError(`${where}: expected an object {hostname, eventing, matchers}, got ${describe(entry)}`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !["hostname", "eventing", "matchers"].includes(k));
    if (unknown.length)
      throw new EndpointsError(`${where}: unknown field ${unknown.map((k) => `"${k}"`).join(", ")} (fields are hostname, eventing, matchers)`);
    if (typeof e.hostname !== "string" || e.hostname.trim() === "")
      throw new EndpointsError(`${where}: field "hostname" must be a non-empty string, got ${describe(e.hostname)}`);
    const named = `${where} (${e.hostname})`;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(e.hostname) || e.hostname.includes("/")) {
      throw new EndpointsError(`${named}: field "hostname" must be a bare host name without scheme or path (the port comes from --port)`);
    }
    if (e.eventing !== undefined && typeof e.eventing !== "boolean")
      throw new EndpointsError(`${named}: field "eventing" must be true or false, got ${describe(e.eventing)}`);
    let matchers: Record<string, string> | null = null;
    if (e.matchers !== undefined && e.matchers !== null) {
      if (typeof e.matchers !== "object" || Array.isArray(e.matchers))
        throw new EndpointsError(`${named}: field "matchers" must be an object of strings or null, got ${describe(e.matchers)}`);
      matchers = {};
      for (const [k, v] of Object.entries(e.matchers)) {
        if (typeof v !== "string") throw new EndpointsError(`${named}: field "matchers.${k}" must be a string, got ${describe(v)}`);
        matchers[k] = v;
      }
    }
    return { hostname: e.hostname.trim(), eventing: e.eventing === true, matchers };
  });
}

export async function readEndpointsFile(file: string): Promise<Endpoint[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new EndpointsError(`${file}: cannot read the endpoints file: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new EndpointsError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseEndpoints(data, file);
}
