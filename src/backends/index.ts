import type { Backend } from './backend.js';
import { coreBackend } from './core/index.js';

export type { Backend } from './backend.js';
export { coreBackend } from './core/index.js';

/** The backends compiled into this trews, in registration order. */
export function allBackends(): readonly Backend[] {
  return [coreBackend];
}
