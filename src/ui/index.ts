export { renderFailure, failureHeadline } from './diagnostic.js';
export { displayText, sourceExcerpt, type SourceExcerpt } from './safe-text.js';
export { LiveConsole, liveLines, progressHeader, stillRunningLine, QUIET_MS, type LiveConsoleOptions, type Progress } from './live-console.js';
export { countsLine, formatDuration, formatElapsed, ProcessTally, summaryLine, type Counted, type SummaryParts } from './summary.js';
export { colorEnabled, palette, stripColors, type ColorChoice, type Palette } from './colors.js';
export { naturalCompare } from './natural-sort.js';
export { TraceRecorder, type TracedOutcome, type TracedProcess, type TraceRecorderOptions } from './trace-recorder.js';
export { listRuns, pruneRuns, readRun, recordRun, runFileName, runsDirIn, type RunFile } from './run-history.js';
