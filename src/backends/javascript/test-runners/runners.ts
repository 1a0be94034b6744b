import { jestRunner } from './jest.js';
import { mochaRunner } from './mocha.js';
import { nodeTestRunner } from './node-test.js';
import type { JsTestRunner, JsTestRunnerName } from './runner.js';
import { vitestRunner } from './vitest.js';

const RUNNERS: Readonly<Record<JsTestRunnerName, JsTestRunner>> = {
  node: nodeTestRunner,
  vitest: vitestRunner,
  jest: jestRunner,
  mocha: mochaRunner,
};

export function testRunnerNamed(name: JsTestRunnerName): JsTestRunner {
  return RUNNERS[name];
}
