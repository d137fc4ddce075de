/**
 * One machine-readable line per figure, beside the human-readable output of each bench script:
 * `BENCH {"figure":…,"value":…,"unit":…,"baseline":…,"ratio":…,"target":…}`. `scripts/bench.js` (`npm run bench`)
 * collects them into BENCHMARKS.md.
 */
export interface BenchFigure {
  /** What was measured, e.g. "webhook-in answer latency p99 at 500/s". */
  figure: string;
  value: number;
  unit: string;
  /** The side-by-side baseline of the same run, in the same unit, and what it is. */
  baseline?: { value: number; what: string };
  /** ours / baseline, when the comparison is a ratio (throughput, CPU, latency). */
  ratio?: number;
  /** The target from TARGETS.md, in words. */
  target?: string;
}

export function report(figure: BenchFigure): void {
  const round = (n: number) => (Number.isInteger(n) ? n : Number(n.toPrecision(4)));
  const out = {
    ...figure,
    value: round(figure.value),
    ...(figure.baseline ? { baseline: { ...figure.baseline, value: round(figure.baseline.value) } } : {}),
    ...(figure.ratio !== undefined ? { ratio: round(figure.ratio) } : {}),
  };
  console.log(`BENCH ${JSON.stringify(out)}`);
}
