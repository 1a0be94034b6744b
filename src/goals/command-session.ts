/**
 * What a goal keeps across the runs of one command line: under `--loop`, or
 * while it serves a page that follows the repository (`trews graph`), the
 * runner runs the goal again on every change, and the goal finds here what it
 * set up the first time (its server). Everything set is disposed, in reverse
 * order, when the command ends.
 */
export class CommandSession {
  readonly #values = new Map<string, unknown>();
  readonly #disposers: (() => Promise<void>)[] = [];

  get<T>(key: string): T | undefined {
    return this.#values.get(key) as T | undefined;
  }

  /** Keeps `value` under `key` until the command ends, then calls `dispose`. */
  set<T>(key: string, value: T, dispose: () => Promise<void>): void {
    this.#values.set(key, value);
    this.#disposers.push(dispose);
  }

  /** Disposes everything set; a failure to dispose one does not stop the others. */
  async dispose(): Promise<void> {
    const disposers = this.#disposers.splice(0).reverse();
    this.#values.clear();
    for (const d of disposers) await d().catch(() => undefined);
  }
}
