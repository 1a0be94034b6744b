/** The file whose presence marks a build root, and holds its options. */
export const CONFIG_FILE = 'trews.toml';

/** The build root's work directory, for trews' own files (logs, daemon state, tool digests): `<root>/.trews.d`. */
export const WORK_DIR = '.trews.d';
