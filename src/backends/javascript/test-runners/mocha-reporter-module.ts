/**
 * The mocha reporter trews writes into the sandbox and names with `--reporter`: mocha's own
 * json reporter has no suite path (only `fullTitle`, the titles joined by spaces), leaves
 * stdout empty (mocha runs one reporter), and drops a failed `before all` hook's suite. This
 * one writes a JSON line per outcome with `titlePath()` and the error, synchronously (mocha
 * may end the process right after `end`), and lets mocha's spec reporter print for humans.
 * CommonJS, so every mocha since 6 (`titlePath`) loads it with `require`.
 */
export const MOCHA_REPORTER_FILE = '.trews-mocha-reporter.cjs';

export const MOCHA_REPORTER_SOURCE = `'use strict';
// Written by trews: mocha's outcomes as JSON lines, read back by trews; spec on stdout.
const fs = require('node:fs');

function errorOf(err) {
  if (err === null || err === undefined) return { message: String(err) };
  if (typeof err !== 'object') return { message: String(err) };
  let message;
  let stack;
  try { message = err.message === undefined ? String(err) : String(err.message); } catch { message = '(unprintable error)'; }
  try { stack = typeof err.stack === 'string' ? err.stack : undefined; } catch { stack = undefined; }
  return { message, stack, name: typeof err.name === 'string' ? err.name : undefined };
}

function titlePathOf(runnable) {
  try { return runnable.titlePath(); } catch { return [runnable.title]; }
}

function fileOf(runnable) {
  for (let r = runnable; r; r = r.parent) if (typeof r.file === 'string') return r.file;
  return undefined;
}

function TrewsReporter(runner, options) {
  const output = (options && options.reporterOptions && options.reporterOptions.output) || process.env.TREWS_MOCHA_REPORT;
  if (!output) throw new Error('the trews reporter needs --reporter-option output=<file>');
  const fd = fs.openSync(output, 'w');
  const write = (o) => fs.writeSync(fd, JSON.stringify(o) + '\\n');
  try {
    const Spec = require('mocha').reporters.Spec;
    new Spec(runner, options);
  } catch {
    // No spec on stdout is a lesser loss than no report.
  }
  runner.on('pass', (test) => write({ event: 'pass', file: fileOf(test), titlePath: titlePathOf(test), durationMs: test.duration }));
  runner.on('pending', (test) => write({ event: 'pending', file: fileOf(test), titlePath: titlePathOf(test) }));
  runner.on('fail', (runnable, err) =>
    write({ event: 'fail', hook: runnable.type === 'hook' ? true : undefined, file: fileOf(runnable), titlePath: titlePathOf(runnable), durationMs: runnable.duration, error: errorOf(err) }),
  );
  runner.once('end', () => {
    write({ event: 'end' });
    fs.closeSync(fd);
  });
}

module.exports = TrewsReporter;
`;
