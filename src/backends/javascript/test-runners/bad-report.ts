import { FailureError, failure } from '../../../core/index.js';
import type { JsTestRunnerName } from './runner.js';

/**
 * A report trews cannot read. The runner wrote it, so it is trews' expectation of the
 * runner's format that is wrong (`internal`), unless the user's flags changed the
 * format (`input`, with what to remove).
 */
export function badReport(runner: JsTestRunnerName, what: string, tag: 'internal' | 'input' = 'internal', hints: readonly string[] = []): FailureError {
  return new FailureError(
    failure(tag, 'test-report-unreadable', `cannot read the ${RUNNER_TITLES[runner]} report: ${what}`, hints.length > 0 ? { hints } : {}),
  );
}

export const RUNNER_TITLES: Readonly<Record<JsTestRunnerName, string>> = {
  node: 'node:test',
  vitest: 'vitest',
  jest: 'jest',
  mocha: 'mocha',
};

/** `JSON.parse` that says which runner's report is not JSON and where, instead of throwing a SyntaxError. */
export function parseJsonReport(runner: JsTestRunnerName, text: string): unknown {
  if (text.trim() === '') throw badReport(runner, 'it is empty (did the process end before writing it?)');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badReport(runner, `it is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}
