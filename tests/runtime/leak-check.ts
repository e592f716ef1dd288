import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * What a runtime left behind on the host that mentions `marker` (a test's unique temp root): processes
 * whose command line names it, mounts under it, network namespaces named with it.
 */
export async function hostLeftovers(marker: string, netnsPrefix?: string): Promise<string[]> {
  const out: string[] = [];
  const { stdout } = await run("ps", ["-eo", "pid=,args="]);
  for (const line of stdout.split("\n")) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    if (line.includes(marker) && pid !== process.pid && !line.includes(" ps -eo")) out.push(`process: ${line.trim()}`);
  }
  for (const line of (await readFile("/proc/self/mountinfo", "utf8")).split("\n")) {
    if (line.includes(marker)) out.push(`mount: ${line.split(" ")[4]}`);
  }
  if (netnsPrefix) {
    const ns = await run("ip", ["netns", "list"]).then(
      (r) => r.stdout,
      () => "",
    );
    for (const line of ns.split("\n")) if (line.startsWith(netnsPrefix)) out.push(`netns: ${line}`);
  }
  return out;
}

/** Polls until `check` returns an empty list or the time is up; returns the last list. */
export async function settle(check: () => Promise<string[]>, ms = 10_000): Promise<string[]> {
  const end = Date.now() + ms;
  let last = await check();
  while (last.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    last = await check();
  }
  return last;
}
