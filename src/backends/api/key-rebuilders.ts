import type { KeyRebuilder } from '../../engine/index.js';
import type { Backend, KeyRebuildEnv } from './backend.js';
import { inputKeyRebuilders } from './run-inputs.js';
import { toolKeyRebuilders } from './tools.js';

/**
 * The rebuilders of every key rules read that computes on its own: the
 * run's inputs and the tools (this folder's keys), then each backend's own
 * (Backend.keyRebuilders). The App adds the file system's (fs) and makes
 * one registry of them (engine createKeyRebuilders).
 */
export function ruleKeyRebuilders(backends: readonly Backend[], env: KeyRebuildEnv): KeyRebuilder[] {
  return [...inputKeyRebuilders(env.options), ...toolKeyRebuilders(env.renv), ...backends.flatMap((b) => b.keyRebuilders?.(env) ?? [])];
}
