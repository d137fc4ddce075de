/** Small helpers shared by the bench scripts: numeric command-line options, percentiles, another process's CPU time. */
import fs from 'node:fs';
import path from 'node:path';

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

const ROOT = path.join(__dirname, '..');

/** The newest modification time (ms) of the files under `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(file) : fs.statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * A module of the compiled package (`dist/<relative>`): what an installed user runs, not the TypeScript source
 * through tsx's loader (whose module transform, e.g. a getter per imported name, is not what runs in Node-RED).
 * `npm run bench` builds first; run alone, a missing or older-than-src build is an error, never measured.
 */
export function builtModule<T>(relative: string): T {
  const cli = path.join(ROOT, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/ is not built: run `node scripts/build.js` first (`npm run bench` does)');
  if (newestMtime(path.join(ROOT, 'src')) > fs.statSync(cli).mtimeMs) {
    throw new Error('dist/ is older than src/: run `node scripts/build.js` first (`npm run bench` does)');
  }
  return require(path.join(ROOT, 'dist', relative)) as T;
}
