/**
 * Lists of waits that are removed lazily. Settling a wait only flags it `done`;
 * lists skip flagged entries and drop them as they grow. Deleting from a Set on
 * every settle costs more, in time and in memory per in-flight task (a cold run
 * has the whole graph in flight at once), than skipping flagged entries on the
 * rare walks that need the live ones (cancellation, cycle search).
 */
export interface Doneable {
  readonly done: boolean;
}

/** Appends `item`, creating the list if needed; returns the list to store. */
export function addWait<T extends Doneable>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  // Sequential awaits leave settled waits at the tail: reuse their slots.
  while (list.length > 0 && list[list.length - 1]!.done) list.pop();
  const n = list.length;
  if (n >= 32 && (n & (n - 1)) === 0) compact(list);
  list.push(item);
  return list;
}

/** The live entries (a copy, safe to iterate while withdrawing). */
export function liveWaits<T extends Doneable>(list: readonly T[] | undefined): T[] {
  return list === undefined ? [] : list.filter((x) => !x.done);
}

function compact<T extends Doneable>(list: T[]): void {
  let j = 0;
  for (let i = 0; i < list.length; i++) {
    const x = list[i]!;
    if (!x.done) list[j++] = x;
  }
  list.length = j;
}
