import type { Backend } from './backend.js';
import { coreBackend } from './core/index.js';
import { shellBackend } from './shell/index.js';

export type { Backend } from './backend.js';
export { coreBackend } from './core/index.js';
export { shellBackend } from './shell/index.js';
export * from './rules/index.js';

/** The backends compiled into this trews, in registration order. */
export function allBackends(): readonly Backend[] {
  return [coreBackend, shellBackend];
}
