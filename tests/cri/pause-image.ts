import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

// A pause image built here: a static binary that sleeps until signalled, packed as an OCI archive.
// It stands in for registry.k8s.io/pause, which cannot be pulled on this machine.

const CACHE = "/var/cache/vhcri/pause-oci.tar";

const PAUSE_C = `#include <signal.h>
#include <unistd.h>
static void quit(int s) { (void)s; _exit(0); }
int main(void) { signal(SIGTERM, quit); signal(SIGINT, quit); for (;;) pause(); }
`;

export async function buildPauseImage(): Promise<string> {
  if (existsSync(CACHE)) return CACHE;
  const dir = await mkdtemp(join(tmpdir(), "vhcri-pause-"));
  try {
    await writeFile(join(dir, "pause.c"), PAUSE_C);
    await mkdir(join(dir, "rootfs"));
    await run("gcc", ["-static", "-O2", "-o", join(dir, "rootfs", "pause"), join(dir, "pause.c")]);
    const layout = join(dir, "layout");
    await run("umoci", ["init", "--layout", layout]);
    await run("umoci", ["new", "--image", `${layout}:1`]);
    await run("umoci", ["insert", "--image", `${layout}:1`, join(dir, "rootfs", "pause"), "/pause"]);
    await run("umoci", ["config", "--image", `${layout}:1`, "--config.entrypoint", "/pause"]);
    await mkdir("/var/cache/vhcri", { recursive: true });
    const tmp = `${CACHE}.${process.pid}`;
    await run("tar", ["-C", layout, "-cf", tmp, "."]);
    await rename(tmp, CACHE);
    return CACHE;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
