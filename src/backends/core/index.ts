import type { Backend } from '../backend.js';
import { coreRules } from './rules.js';
import { fileTarget, filesTarget, resourceTarget, resourcesTarget, targetTarget } from './target-types.js';

/** Target types every build has: generic targets, loose files and resources. */
export const coreBackend: Backend = {
  name: 'core',
  targetTypes: [targetTarget, fileTarget, filesTarget, resourceTarget, resourcesTarget],
  rules: coreRules,
};
