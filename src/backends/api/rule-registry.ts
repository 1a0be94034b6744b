import type { Behavior } from './behaviors.js';
import type { Backend } from './backend.js';
import type { TailorProvider } from './tailor.js';
import { handlerOf, type TargetRules } from './target-rules.js';

/** The rules of every target type of a set of backends, by alias. */
export class RuleRegistry {
  readonly #rules = new Map<string, TargetRules>();
  readonly #tailors: TailorProvider[] = [];

  /** Two backends defining one alias is a bug of the backends, found at start-up. */
  constructor(backends: readonly Backend[]) {
    const owner = new Map<string, string>();
    for (const b of backends) {
      for (const { type, rules } of b.targets) {
        const prev = owner.get(type.alias);
        if (prev !== undefined) throw new Error(`bug: target type \`${type.alias}\` is defined by both the ${prev} and the ${b.name} backend`);
        owner.set(type.alias, b.name);
        if (rules !== undefined) this.#rules.set(type.alias, rules);
      }
      if (b.tailor !== undefined) this.#tailors.push(b.tailor);
    }
  }

  /** What the backends contribute to `trews tailor`, in registration order. */
  tailorProviders(): readonly TailorProvider[] {
    return this.#tailors;
  }

  rulesFor(alias: string): TargetRules | undefined {
    return this.#rules.get(alias);
  }

  /** The aliases of the target types that provide `behavior`, sorted (for messages such as "runnable target types: …"). */
  providers<R, Req>(behavior: Behavior<R, Req>): string[] {
    return [...this.#rules].filter(([, r]) => handlerOf(r, behavior) !== undefined).map(([alias]) => alias).sort();
  }

  provides<R, Req>(alias: string, behavior: Behavior<R, Req>): boolean {
    return handlerOf(this.#rules.get(alias), behavior) !== undefined;
  }
}
