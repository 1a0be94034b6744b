import type { TargetRules } from '../rules/index.js';

/** Loose files and resources put themselves in a dependent's sandbox, at their paths from the build root. */
const ownSources: TargetRules = { sandbox: { sources: true } };

export const coreRules: Readonly<Record<string, TargetRules>> = {
  file: ownSources,
  files: ownSources,
  resource: ownSources,
  resources: ownSources,
};
