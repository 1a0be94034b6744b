export { renderFailure } from './diagnostic.js';
export { displayText, sourceExcerpt, type SourceExcerpt } from './safe-text.js';
export { LiveConsole, liveLines, type LiveConsoleOptions } from './live-console.js';
export { formatDuration, ProcessTally } from './summary.js';
