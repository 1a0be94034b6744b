/**
 * The node:test reporter trews writes into the sandbox and names with `--test-reporter`:
 * one JSON object per line for each event a case's outcome is made of. Node 20's built-in
 * junit reporter is lossy for our needs (README: "Why a reporter of our own"), and the
 * events themselves have everything: file, nesting, skip/todo, the error and its cause.
 * Plain ES2020 JavaScript with no imports, so any Node that has node:test can load it.
 */
export const NODE_REPORTER_FILE = '.trews-node-test-reporter.mjs';

export const NODE_REPORTER_SOURCE = `// Written by trews: node:test events as JSON lines, read back by trews.
function text(v) {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : String(v);
}
function errorOf(e) {
  if (e === undefined || e === null) return undefined;
  const cause = e.cause;
  const inner = cause !== null && typeof cause === 'object' ? cause : undefined;
  let message;
  try {
    message = inner !== undefined ? text(inner.message) : typeof cause === 'string' ? cause : text(e.message);
  } catch {
    message = undefined;
  }
  let stack;
  try {
    stack = inner !== undefined && typeof inner.stack === 'string' ? inner.stack : undefined;
  } catch {
    stack = undefined;
  }
  return {
    failureType: text(e.failureType),
    message: message ?? '',
    stack,
    name: inner !== undefined ? text(inner.name) : undefined,
    code: inner !== undefined ? text(inner.code) : undefined,
    // A file's own failure: how its process ended.
    exitCode: typeof e.exitCode === 'number' ? e.exitCode : undefined,
    signal: typeof e.signal === 'string' ? e.signal : undefined,
  };
}
function flag(v) {
  return v === undefined || v === false ? undefined : v === true ? true : text(v);
}
export default async function* trewsReporter(source) {
  for await (const event of source) {
    const d = event.data ?? {};
    switch (event.type) {
      case 'test:start':
        yield JSON.stringify({ event: 'start', file: d.file, name: d.name, nesting: d.nesting }) + '\\n';
        break;
      case 'test:pass':
      case 'test:fail':
        yield JSON.stringify({
          event: event.type === 'test:pass' ? 'pass' : 'fail',
          file: d.file,
          name: d.name,
          nesting: d.nesting,
          line: d.line,
          column: d.column,
          skip: flag(d.skip),
          todo: flag(d.todo),
          suite: d.details?.type === 'suite' ? true : undefined,
          durationMs: d.details?.duration_ms,
          error: errorOf(d.details?.error),
        }) + '\\n';
        break;
      case 'test:diagnostic':
        // Most are the run's summary; one before a file's own failure says what went wrong outside its tests.
        yield JSON.stringify({ event: 'diagnostic', file: d.file, nesting: d.nesting, message: text(d.message) }) + '\\n';
        break;
      case 'test:stderr':
        yield JSON.stringify({ event: 'stderr', file: d.file, message: text(d.message) }) + '\\n';
        break;
      default:
        break;
    }
  }
}
`;
