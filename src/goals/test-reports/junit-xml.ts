import { countTestCases, type TestCase } from '../../backends/index.js';
import { xmlAttr, xmlText } from './xml-text.js';

export interface JunitOptions {
  /** The testsuite's name; the file by default. */
  readonly name?: string;
  /** ISO time of the run. Left out by default, so the same cases give the same bytes (and cache the same). */
  readonly timestamp?: string;
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/**
 * One JUnit XML document for one test file, in the shape CI services read (Jenkins,
 * GitLab, GitHub's test-reporter actions): a `testsuite` for the file, a `testcase` per case
 * with its suites as `classname` (the file when it has none), `failure` with the message,
 * the location and the details, `skipped` for skipped and todo cases.
 */
export function junitXml(file: string, cases: readonly TestCase[], opts: JunitOptions = {}): string {
  const n = countTestCases(cases);
  const time = seconds(cases.reduce((t, c) => t + c.durationMs, 0));
  const suiteAttrs = [
    `name="${xmlAttr(opts.name ?? file)}"`,
    `tests="${n.total}"`,
    `failures="${n.failed}"`,
    `errors="0"`,
    `skipped="${n.skipped + n.todo}"`,
    `time="${time}"`,
    ...(opts.timestamp !== undefined ? [`timestamp="${xmlAttr(opts.timestamp)}"`] : []),
    `file="${xmlAttr(file)}"`,
  ].join(' ');
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${n.total}" failures="${n.failed}" errors="0" skipped="${n.skipped + n.todo}" time="${time}">`,
    `  <testsuite ${suiteAttrs}>`,
  ];
  for (const c of cases) {
    const attrs = [
      `name="${xmlAttr(c.name)}"`,
      `classname="${xmlAttr(c.suites.length > 0 ? c.suites.join(' > ') : c.file)}"`,
      `time="${seconds(c.durationMs)}"`,
      `file="${xmlAttr(c.file)}"`,
      ...(c.failure?.location !== undefined ? [`line="${c.failure.location.line}"`] : []),
    ].join(' ');
    if (c.status === 'passed') {
      out.push(`    <testcase ${attrs}/>`);
      continue;
    }
    out.push(`    <testcase ${attrs}>`);
    if (c.status === 'skipped' || c.status === 'todo') {
      out.push(`      <skipped message="${c.status === 'todo' ? 'todo' : 'skipped'}"/>`);
    } else {
      const f = c.failure;
      const at = f?.location !== undefined ? `at ${f.location.file}:${f.location.line}${f.location.column !== undefined ? `:${f.location.column}` : ''}` : undefined;
      const body = [f?.message, at, f?.details].filter((x): x is string => x !== undefined && x !== '').join('\n\n');
      out.push(`      <failure message="${xmlAttr(f?.message ?? 'failed')}" type="failure">${xmlText(body)}</failure>`);
    }
    out.push('    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}
