export { ALWAYS_IGNORED_DIRS, workDirOf, type FsRules, type Workspace } from './workspace.js';
export { DirEntriesKey, type DirEntries, type DirEntry, type EntryKind } from './dir-entries.js';
export { PathKindKey, type PathKind } from './path-stat.js';
export { FileTextKey } from './file-content.js';
export { FileDigestKey, type FileDigest } from './file-digest.js';
export { IgnoreRulesKey, isIgnored, type IgnoreRules, type IgnoreLevel } from './ignore-rules.js';
export { ListingKey, FilesUnderKey, type Listing } from './listing.js';
export { GlobKey, isGlobPattern, type GlobResult } from './glob.js';
export { BuildFilesInDirKey, BuildDirsUnderKey } from './build-file-discovery.js';
