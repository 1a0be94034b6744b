import type { FieldSpec, TargetType } from '../../targets/index.js';

const source = (what: string): FieldSpec => ({
  name: 'source',
  type: { kind: 'source' },
  required: true,
  help: `A single ${what}, relative to the BUILD file's directory.`,
});

const sources = (what: string): FieldSpec => ({
  name: 'sources',
  type: { kind: 'sources' },
  required: true,
  help: `Globs of ${what}s relative to the BUILD file's directory, e.g. ['*.txt', 'data/**/*.json', '!secret.txt']. Prefix a glob with ! to exclude.`,
});

export const targetTarget: TargetType = {
  alias: 'target',
  help: 'A generic target with no behaviour of its own. Use it to group dependencies under one address.',
  fields: [],
};

export const fileTarget: TargetType = {
  alias: 'file',
  help: 'A single loose file: data or configuration that tests and build steps can read from the sandbox at its path relative to the build root.',
  fields: [source('file')],
};

export const filesTarget: TargetType = {
  alias: 'files',
  help: 'Generates a `file` target for each file matched by `sources`, addressed `dir/name.ext:<this name>`.',
  fields: [sources('file')],
  generator: { generates: 'file', sourceField: 'source' },
};

export const resourceTarget: TargetType = {
  alias: 'resource',
  help: 'A single resource file, meant to be packaged with code and loaded at run time.',
  fields: [source('resource')],
};

export const resourcesTarget: TargetType = {
  alias: 'resources',
  help: 'Generates a `resource` target for each file matched by `sources`, addressed `dir/name.ext:<this name>`.',
  fields: [sources('resource')],
  generator: { generates: 'resource', sourceField: 'source' },
};
