/** Small helpers shared by the bench scripts: numeric command-line options, percentiles, another process's CPU time. */
import fs from 'node:fs';

/** `--name value` from the command line as a number, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
}

/** The p-th percentile (0–100) of ascending `sorted` values (nearest rank); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/**
 * CPU time (user + system, ms) another process has used so far, from `/proc/<pid>/stat` (Linux; clock ticks of
 * 10 ms); NaN where that file cannot be read.
 */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15 of proc(5))
  } catch {
    return NaN;
  }
}
