// What `trews test` writes for CI besides its summary: JUnit XML per test file, coverage merged across processes.
export { junitXml, type JunitOptions } from './junit-xml.js';
export { mapLcovPaths, mergeLcov } from './lcov.js';
