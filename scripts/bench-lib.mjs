// Shared by the bench scripts: command-line flags and the "best of 5" timer.

/** `--json` (machine output) and `--quick` (fewer packets) from the command line. */
export function benchArgs(argv = process.argv.slice(2)) {
  const args = new Set(argv);
  const json = args.has("--json");
  return {
    json,
    quick: args.has("--quick"),
    out: (line) => {
      if (!json) console.log(line);
    },
  };
}

/** Runs `fn(n)` once to warm up, then five times, and returns the best rate (per second). */
export function timeIt(fn, n) {
  fn(Math.min(n, 50_000));
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    fn(n);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  runs.sort((a, b) => a - b);
  return n / runs[0];
}
