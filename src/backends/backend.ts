import type { OptionRegistry } from '../options/index.js';
import type { DependencyInferrer, TargetType } from '../targets/index.js';

/**
 * A backend contributes target types, the options of its subsystems and the
 * rules that give its targets behaviour. trews is the sum of its backends; a
 * new language is a new backend, nothing else changes.
 */
export interface Backend {
  readonly name: string;
  readonly targetTypes: readonly TargetType[];
  readonly inferrers?: readonly DependencyInferrer[];
  registerOptions?(registry: OptionRegistry): void;
}
