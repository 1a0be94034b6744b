import { FailureError, failure } from '../../core/index.js';

/** One source file's coverage, summed over the processes that ran it. */
interface FileCoverage {
  testName: string;
  /** function name → its first line */
  readonly functions: Map<string, number>;
  /** function name → calls */
  readonly functionHits: Map<string, number>;
  /** line → hits */
  readonly lines: Map<number, number>;
  /** `line,block,branch` → taken (null: the branch's block never ran, lcov's `-`) */
  readonly branches: Map<string, number | null>;
}

function bad(what: string): FailureError {
  return new FailureError(failure('internal', 'lcov-unreadable', `cannot merge coverage: ${what}`));
}

function count(text: string, where: string): number {
  if (!/^\d+$/.test(text)) throw bad(`${where}: \`${text}\` is not a count`);
  return Number(text);
}

/**
 * lcov from several processes (one per test file or batch) as one report: records of the
 * same `SF` are one, their DA/FNDA/BRDA hits summed, their lines, functions and branches
 * united, and LF/LH/FNF/FNH/BRF/BRH computed again. Files sorted by path, so the same
 * inputs in any order give the same bytes. Paths are taken as they are: make them
 * build-root relative first (`mapLcovPaths`).
 */
export function mergeLcov(reports: readonly string[]): string {
  const files = new Map<string, FileCoverage>();
  reports.forEach((report, index) => {
    let current: FileCoverage | undefined;
    let testName = '';
    const lines = report.split(/\r?\n/);
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === '') return;
      const where = `report ${index + 1} line ${i + 1}`;
      if (line === 'end_of_record') {
        current = undefined;
        return;
      }
      const colon = line.indexOf(':');
      const tag = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1);
      if (tag === 'TN') {
        testName = value;
        return;
      }
      if (tag === 'SF') {
        current = files.get(value);
        if (current === undefined) {
          current = { testName, functions: new Map(), functionHits: new Map(), lines: new Map(), branches: new Map() };
          files.set(value, current);
        }
        return;
      }
      // Summaries are computed again; VER, FNL, FNA (lcov 2 extensions) and unknown tags carry nothing we sum.
      if (['LF', 'LH', 'FNF', 'FNH', 'BRF', 'BRH'].includes(tag) || !['FN', 'FNDA', 'DA', 'BRDA'].includes(tag)) return;
      if (current === undefined) throw bad(`${where}: \`${tag}\` outside a record (no SF before it)`);
      const parts = value.split(',');
      switch (tag) {
        case 'FN': {
          // `FN:line,name`, or lcov 2's `FN:line,end,name`; a name may itself hold commas.
          const withEnd = parts.length >= 3 && /^\d+$/.test(parts[1]!);
          const name = parts.slice(withEnd ? 2 : 1).join(',');
          if (name === '') throw bad(`${where}: FN without a name`);
          if (!current.functions.has(name)) current.functions.set(name, count(parts[0]!, where));
          break;
        }
        case 'FNDA': {
          const name = parts.slice(1).join(',');
          if (name === '') throw bad(`${where}: FNDA without a name`);
          current.functionHits.set(name, (current.functionHits.get(name) ?? 0) + count(parts[0]!, where));
          break;
        }
        case 'DA': {
          if (parts.length < 2) throw bad(`${where}: DA needs a line and a count`);
          const ln = count(parts[0]!, where);
          current.lines.set(ln, (current.lines.get(ln) ?? 0) + count(parts[1]!, where));
          break;
        }
        case 'BRDA': {
          if (parts.length < 4) throw bad(`${where}: BRDA needs a line, a block, a branch and a count`);
          const key = `${count(parts[0]!, where)},${parts[1]},${parts[2]}`;
          const taken = parts[3] === '-' ? null : count(parts[3]!, where);
          const before = current.branches.get(key);
          current.branches.set(key, before === undefined ? taken : before === null ? taken : taken === null ? before : before + taken);
          break;
        }
      }
    });
  });
  const out: string[] = [];
  for (const path of [...files.keys()].sort()) {
    const f = files.get(path)!;
    out.push(`TN:${f.testName}`, `SF:${path}`);
    const fns = [...f.functions].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [name, line] of fns) out.push(`FN:${line},${name}`);
    // A function only seen in FNDA (some writers) still counts.
    const names = [...new Set([...fns.map(([n]) => n), ...[...f.functionHits.keys()].sort()])];
    for (const name of names) out.push(`FNDA:${f.functionHits.get(name) ?? 0},${name}`);
    out.push(`FNF:${names.length}`, `FNH:${names.filter((n) => (f.functionHits.get(n) ?? 0) > 0).length}`);
    const branches = [...f.branches].sort((a, b) => compareBranchKeys(a[0], b[0]));
    for (const [key, taken] of branches) out.push(`BRDA:${key},${taken === null ? '-' : taken}`);
    out.push(`BRF:${branches.length}`, `BRH:${branches.filter(([, t]) => t !== null && t > 0).length}`);
    const lines = [...f.lines].sort((a, b) => a[0] - b[0]);
    for (const [ln, hits] of lines) out.push(`DA:${ln},${hits}`);
    out.push(`LF:${lines.length}`, `LH:${lines.filter(([, h]) => h > 0).length}`, 'end_of_record');
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function compareBranchKeys(a: string, b: string): number {
  const pa = a.split(',');
  const pb = b.split(',');
  for (let i = 0; i < 3; i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    const nx = Number(x);
    const ny = Number(y);
    const d = Number.isNaN(nx) || Number.isNaN(ny) ? (x < y ? -1 : x > y ? 1 : 0) : nx - ny;
    if (d !== 0) return d;
  }
  return 0;
}

/** lcov with every `SF` path passed through `map` (a runner's cwd-relative or sandbox-absolute path → build-root relative). */
export function mapLcovPaths(report: string, map: (path: string) => string): string {
  return report.replace(/^SF:(.*?)(\r?)$/gm, (_m, path: string, cr: string) => `SF:${map(path)}${cr}`);
}
