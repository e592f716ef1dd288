// vSwarm's invoker output: a file named `rps<R>_<latf>` where R is the real rate printed with Go's
// "%.2f" verb, one latency in integer microseconds per line, no header.

/**
 * Go's fmt "%.2f": the exact binary value rounded to 2 decimals, ties to even. JavaScript's
 * toFixed breaks exact ties upwards (1.125 → "1.13" where Go prints "1.12"); otherwise they agree.
 */
export function goFixed2(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : x < 0 ? "-Inf" : "NaN";
  const plain = x.toFixed(2);
  if (Math.abs(x) >= 1e21) return plain;
  // toFixed(100) is the exact decimal expansion for any double this size or larger than 1e-80.
  const exact = Math.abs(x).toFixed(100);
  const dot = exact.indexOf(".");
  const rest = exact.slice(dot + 3);
  if (!/^50*$/.test(rest)) return plain;
  // An exact tie: keep the even last digit.
  const truncated = exact.slice(0, dot + 3);
  const lastDigit = Number(truncated[truncated.length - 1]);
  const down = (x < 0 ? "-" : "") + truncated;
  if (lastDigit % 2 === 0) return down === "-0.00" ? "-0.00" : down;
  return plain;
}

export function vswarmLatencyFileName(realRps: number, latf = "lat.csv"): string {
  return `rps${goFixed2(realRps)}_${latf}`;
}

/** One latency per line in whole microseconds, truncated like Go's Duration.Microseconds(). */
export function vswarmLatencyCsv(latenciesUs: ArrayLike<number>): string {
  let out = "";
  for (let i = 0; i < latenciesUs.length; i++) out += `${Math.trunc(latenciesUs[i]!)}\n`;
  return out;
}
