export * from './types.js';
export { OptionRegistry } from './registry.js';
export { parseCommandLine, type CommandLine, type FlagValue } from './command-line.js';
export { resolveOptions, type ResolveInput } from './resolve.js';
export type { Options } from './options.js';
export { describeSource } from './source.js';
export { daemonFingerprint, daemonOptionSnapshot, changedDaemonOptions } from './fingerprint.js';
export { registerGlobalOptions, parseByteSize } from './global-options.js';
export { flagSpelling, envVarName } from './naming.js';
