import type { Backend } from './api/index.js';
import { coreBackend } from './core/index.js';
import { javascriptBackend } from './javascript/index.js';
import { shellBackend } from './shell/index.js';

export { coreBackend } from './core/index.js';
export { shellBackend } from './shell/index.js';
export { javascriptBackend } from './javascript/index.js';
export * from './api/index.js';

/** The backends compiled into this trews, in registration order. */
export function allBackends(): readonly Backend[] {
  return [coreBackend, shellBackend, javascriptBackend];
}
