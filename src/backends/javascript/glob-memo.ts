import picomatch from 'picomatch';

/**
 * A matcher for a list of patterns (`dot: true`: package files, outputs,
 * test patterns), compiled once per list: every package of a workspace
 * names the same defaults, and compiling them per package was ~70 ms of a
 * cold `--no-daemon package ::` of 200 packages (bench/README.md). A pure
 * memo, bounded.
 */
export function dotGlobs(patterns: readonly string[]): (path: string) => boolean {
  const key = patterns.join('\0');
  let m = compiled.get(key);
  if (m === undefined) {
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    m = picomatch([...patterns], { dot: true });
    compiled.set(key, m);
  }
  return m;
}

const compiled = new Map<string, (path: string) => boolean>();
const COMPILED_MAX = 10_000;
