export { repoRoot, makeRepo, withRepo, type TempRepo } from './repo.js';
export { collectOutput, pathWithStandInNode, runTrews, spawnTrews, TREWS_LAUNCHER, TREWS_NODE_ENTRY, type CliResult, type CollectedOutput, type RunTrewsOptions, type SpawnedTrews } from './cli.js';
export { assertGolden, normalizeTimes, stableResults } from './golden.js';
export { daemonPid, daemonLog, isDaemonOf, pidAlive, waitUntil, DaemonJanitor } from './daemon.js';
export { chromiumOrSkip, findChromium, HeadlessPage } from './chromium.js';
export { graphOf } from './graph-page.js';
export { lockedSemverEntry } from './npm-lock.js';
export { copyExampleWorkspace, snapshotFiles, type ExampleWorkspace } from './example-workspace.js';
