import { parseArgs } from "node:util";
import { ApiClient } from "../api/api-client.js";
import { DEFAULT_API_SOCKET } from "../config/runtime-config.js";
import { CliError } from "./cli-error.js";
import { withProgress } from "./progress.js";

export const CLIENT_USAGE = `node-runtime start --image REF [--revision R] [--id ID] [--port N] [--sandbox KIND]
                   [--snapshot-mode MODE] [--env K=V]... [--invoke NAME]
node-runtime stop ID
node-runtime invoke ID [--name NAME]
node-runtime ls
node-runtime snapshot ls
node-runtime snapshot rm REVISION
node-runtime metrics [--csv]
  common: --api TARGET (unix:/path or host:port; default unix:${DEFAULT_API_SOCKET}), --json`;

const COMMON = {
  api: { type: "string" },
  json: { type: "boolean" },
} as const;

function client(api: string | undefined): ApiClient {
  return new ApiClient(api ?? process.env.NODE_RUNTIME_API ?? `unix:${DEFAULT_API_SOCKET}`);
}

function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + "\n");
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The fields of a ListInstances reply's instance that `ls` prints. */
interface InstanceRow {
  instance_id: string;
  revision: string;
  sandbox: string;
  start_kind: string;
  state: string;
  endpoint?: Endpoint;
  pid?: number;
}

/** The fields of a ListSnapshots reply's snapshot that `snapshot ls` prints. */
interface SnapshotRow {
  revision: string;
  sandbox: string;
  size_bytes: number;
  files: number;
  last_used_at: string;
  in_use: boolean;
}

type Endpoint = { kind: string; host: string; port: number; path: string };

function endpointText(e: Endpoint | undefined): string {
  if (!e) return "-";
  return e.kind === "unix" ? `unix:${e.path}` : `${e.host}:${e.port}`;
}

const stagesText = (stages: Record<string, number>) =>
  Object.entries(stages)
    .map(([k, v]) => `${k}=${Math.round(v)}µs`)
    .join(" ");

export async function clientCommand(command: string, argv: string[]): Promise<void> {
  switch (command) {
    case "start": {
      const { values } = parseArgs({
        args: argv,
        options: {
          ...COMMON,
          image: { type: "string" },
          revision: { type: "string" },
          id: { type: "string" },
          port: { type: "string" },
          sandbox: { type: "string" },
          "snapshot-mode": { type: "string" },
          env: { type: "string", multiple: true },
          invoke: { type: "string" },
        },
      });
      if (!values.image) throw new CliError("start: --image is required", 2);
      const env: Record<string, string> = {};
      for (const kv of values.env ?? []) {
        const i = kv.indexOf("=");
        if (i <= 0) throw new CliError(`start: --env expects KEY=VALUE, got ${JSON.stringify(kv)}`, 2);
        env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      const port = values.port === undefined ? 0 : Number(values.port);
      if (!Number.isInteger(port)) throw new CliError(`start: --port expects an integer, got ${JSON.stringify(values.port)}`, 2);
      const c = client(values.api);
      try {
        const inst = await withProgress(`starting ${values.revision ?? values.image}`, () =>
          c.runtimeCall("StartInstance", {
            image: values.image,
            revision: values.revision ?? "",
            instance_id: values.id ?? "",
            port,
            sandbox: values.sandbox ?? "",
            snapshot_mode: values["snapshot-mode"] ?? "",
            env,
          }),
        );
        const invoked = values.invoke !== undefined ? await c.runtimeCall("Invoke", { instance_id: inst.instance_id, name: values.invoke }) : undefined;
        print(values.json, invoked ? { instance: inst, invoke: invoked } : inst, () =>
          [
            `${inst.instance_id}: revision ${inst.revision} on ${inst.sandbox}, ${inst.start_kind} (${inst.state}) at ${endpointText(inst.endpoint)}`,
            `  cold start: ${stagesText(inst.cold_start_us)}`,
            ...inst.notes.map((n: string) => `  note: ${n}`),
            ...(invoked ? [`  ${invoked.message} (${Math.round(invoked.duration_us)}µs)`] : []),
          ].join("\n"),
        );
      } finally {
        c.close();
      }
      return;
    }
    case "stop":
    case "invoke": {
      const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON, name: { type: "string" } }, allowPositionals: true });
      const id = positionals[0];
      if (!id || positionals.length > 1) throw new CliError(`${command}: expected exactly one instance id`, 2);
      const c = client(values.api);
      try {
        if (command === "stop") {
          const r = await withProgress(`stopping ${id}`, () => c.runtimeCall("StopInstance", { instance_id: id }));
          print(values.json, r, () => `stopped ${r.instance_id} (snapshot: ${r.snapshot}${r.snapshot_error ? `: ${r.snapshot_error}` : ""})`);
        } else {
          const r = await c.runtimeCall("Invoke", { instance_id: id, name: values.name ?? "world" });
          print(values.json, r, () => `${r.message} (${Math.round(r.duration_us)}µs${r.cold_start ? ", first invocation" : ""})`);
        }
      } finally {
        c.close();
      }
      return;
    }
    case "ls": {
      const { values } = parseArgs({ args: argv, options: COMMON });
      const c = client(values.api);
      try {
        const { instances } = await c.runtimeCall<{ instances: InstanceRow[] }>("ListInstances");
        print(values.json, instances, () =>
          table([
            ["ID", "REVISION", "SANDBOX", "START", "STATE", "ENDPOINT", "PID"],
            ...instances.map((i) => [i.instance_id, i.revision, i.sandbox, i.start_kind, i.state, endpointText(i.endpoint), String(i.pid || "-")]),
          ]),
        );
      } finally {
        c.close();
      }
      return;
    }
    case "snapshot": {
      const { values, positionals } = parseArgs({ args: argv, options: COMMON, allowPositionals: true });
      const [sub, revision] = positionals;
      const c = client(values.api);
      try {
        if (sub === "ls" && positionals.length === 1) {
          const r = await c.runtimeCall<{ snapshots: SnapshotRow[]; total_bytes: number; budget_bytes: number }>("ListSnapshots");
          print(
            values.json,
            r,
            () =>
              table([
                ["REVISION", "SANDBOX", "SIZE", "FILES", "LAST USED", "IN USE"],
                ...r.snapshots.map((s) => [
                  s.revision,
                  s.sandbox,
                  `${(s.size_bytes / 1024 ** 2).toFixed(1)} MiB`,
                  String(s.files),
                  s.last_used_at,
                  String(s.in_use),
                ]),
              ]) + `\n${(r.total_bytes / 1024 ** 2).toFixed(1)} MiB of ${(r.budget_bytes / 1024 ** 2).toFixed(0)} MiB budget`,
          );
        } else if (sub === "rm" && revision && positionals.length === 2) {
          await c.runtimeCall("DeleteSnapshot", { revision });
          print(values.json, { deleted: revision }, () => `deleted snapshot of ${revision}`);
        } else {
          throw new CliError("snapshot: expected `snapshot ls` or `snapshot rm REVISION`", 2);
        }
      } finally {
        c.close();
      }
      return;
    }
    case "metrics": {
      const { values } = parseArgs({ args: argv, options: { ...COMMON, csv: { type: "boolean" } } });
      const c = client(values.api);
      try {
        const m = await c.runtimeCall("GetMetrics");
        process.stdout.write(values.json ? JSON.stringify(m.cold_starts, null, 2) + "\n" : values.csv ? m.vhive_csv : m.prometheus_text);
      } finally {
        c.close();
      }
      return;
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}`, 2);
  }
}
