import type { OptionRegistry } from '../options/index.js';
import type { DependencyInferrer, TargetType } from '../targets/index.js';
import type { TargetRules } from './rules/index.js';

/**
 * A backend contributes target types, the options of its subsystems and the
 * rules that give its targets behaviour. trews is the sum of its backends; a
 * new language is a new backend, nothing else changes.
 */
export interface Backend {
  readonly name: string;
  readonly targetTypes: readonly TargetType[];
  readonly inferrers?: readonly DependencyInferrer[];
  /**
   * Behaviour by target type alias: what a target contributes to the
   * sandbox of a process depending on it, and how it is tested, run or
   * packaged (see rules/target-rules.ts).
   */
  readonly rules?: Readonly<Record<string, TargetRules>>;
  registerOptions?(registry: OptionRegistry): void;
}
