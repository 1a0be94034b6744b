import type { OptionRegistry } from '../../options/index.js';
import type { DependencyInferrer, SyntheticTargetsProvider, TargetType } from '../../targets/index.js';
import type { TailorProvider } from './tailor.js';
import type { TargetRules } from './target-rules.js';

/** A target type with its behaviour: the two are declared together, so neither can name the other wrongly. */
export interface TargetDefinition {
  readonly type: TargetType;
  /** How it fills sandboxes and which goals' behaviours it provides; none: it only groups dependencies. */
  readonly rules?: TargetRules;
}

/**
 * A backend contributes target types with their rules, dependency
 * inferrers, targets inferred without BUILD files, and the options of its subsystems. trews is the sum of its
 * backends; a new language is a new backend, nothing else changes.
 */
export interface Backend {
  readonly name: string;
  readonly targets: readonly TargetDefinition[];
  readonly inferrers?: readonly DependencyInferrer[];
  /** Targets it infers without BUILD files (a package.json's package and scripts). */
  readonly syntheticTargets?: readonly SyntheticTargetsProvider[];
  /** What `trews tailor` writes into BUILD files for it (the targets it infers, made explicit). */
  readonly tailor?: TailorProvider;
  registerOptions?(registry: OptionRegistry): void;
}
