// Test runners of JavaScript packages: which one a package uses, the process that runs some of
// its test files, and the cases its machine-readable report holds. Pure: the rules run the processes.
export { JS_TEST_RUNNER_NAMES, type JsTestCommand, type JsTestCommandOptions, type JsTestRunner, type JsTestRunnerName } from './runner.js';
export { testRunnerNamed } from './runners.js';
export { detectTestRunner, explainTestRunner, type DetectedTestRunner, type TestRunnerDetection, type TestRunnerInput } from './detect.js';
export { shellWords, type ShellWords } from './shell-words.js';
export { buildRootPath, type ReportContext } from './report-paths.js';
export { NODE_REPORTER_FILE } from './node-reporter-module.js';
export { MOCHA_REPORTER_FILE } from './mocha-reporter-module.js';
export { failedRunCases } from './failed-run.js';
export { casesOfRun, type TestRunOutcome } from './run-cases.js';
