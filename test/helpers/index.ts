export { repoRoot, makeRepo, type TempRepo } from './repo.js';
export { runTrews, type CliResult } from './cli.js';
export { assertGolden } from './golden.js';
