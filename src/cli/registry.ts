import type { Backend } from '../backends/index.js';
import { registerChangedOptions, type Goal } from '../goals/index.js';
import { OptionRegistry, registerGlobalOptions, registerSandboxOptions } from '../options/index.js';

/** The registry every run starts from: global options, goals, and what backends add. */
export function buildRegistry(goals: readonly Goal[], backends: readonly Backend[]): OptionRegistry {
  const registry = new OptionRegistry();
  registerGlobalOptions(registry);
  registerSandboxOptions(registry);
  registerChangedOptions(registry);
  for (const g of goals) g.registerOptions(registry);
  for (const b of backends) b.registerOptions?.(registry);
  return registry;
}
