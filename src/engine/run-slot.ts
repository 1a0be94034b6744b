import type { RunInputs, RunSlot, SlotValue } from './types.js';

/**
 * Creates a slot for one kind of per-run service. Slots are compared by
 * identity: create each once, at module level, where its users can import it.
 */
export function createRunSlot<T>(name: string): RunSlot<T> {
  const slot: RunSlot<T> = {
    name,
    with: (value: T): SlotValue => ({ slot: slot as RunSlot<unknown>, value }),
  };
  return slot;
}

/** What a run or a computation can answer `slot` from. */
export interface RunScope {
  readonly inputs: RunInputs | undefined;
  readonly slots: ReadonlyMap<RunSlot<unknown>, unknown>;
  describeScope(): string;
}

export function slotValue<T>(scope: RunScope, slot: RunSlot<T>): T {
  if (!scope.slots.has(slot as RunSlot<unknown>)) {
    throw new Error(`bug: ${scope.describeScope()} has no value for the run slot \`${slot.name}\``);
  }
  return scope.slots.get(slot as RunSlot<unknown>) as T;
}
