import cliProgress from "cli-progress";

/**
 * Shows "<label> 3s" on stderr while `work` runs, for work of unknown length (a boot, a snapshot,
 * an image unpack). Only on a terminal: piped or captured output stays clean.
 */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return work();
  const bar = new cliProgress.SingleBar(
    { format: `${label} {duration_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: true, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1, 0);
  const tick = setInterval(() => bar.updateETA(), 200);
  try {
    return await work();
  } finally {
    clearInterval(tick);
    bar.stop();
  }
}
