import type { Writable } from 'node:stream';

export interface LiveConsoleOptions {
  /** Where permanent lines and the live area go (stderr, as the goal's own output owns stdout). */
  readonly stream: Writable;
  /** Redraw in place; false prints permanent lines only. */
  readonly dynamic: boolean;
  readonly width: number;
  /** Most lines the live area may take; the rest is summarized as "… and N more". */
  readonly maxLines?: number;
  readonly now?: () => number;
  readonly redrawMs?: number;
}

interface Task {
  readonly label: string;
  readonly start: number;
}

/**
 * The dynamic part of a run's console: the tasks running right now, each with
 * its elapsed time, redrawn in place under the permanent lines. On a terminal
 * that cannot redraw, only permanent lines are printed.
 */
export class LiveConsole {
  readonly #opts: LiveConsoleOptions;
  readonly #tasks = new Map<number, Task>();
  readonly #now: () => number;
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: LiveConsoleOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => performance.now());
  }

  get dynamic(): boolean {
    return this.#opts.dynamic;
  }

  /** Prints a line that stays, above the live area. */
  print(line: string): void {
    if (this.#closed) {
      this.#opts.stream.write(`${line}\n`);
      return;
    }
    this.#opts.stream.write(`${this.#erase()}${line}\n${this.#render()}`);
  }

  taskStarted(id: number, label: string): void {
    this.#tasks.set(id, { label, start: this.#now() });
    this.#schedule();
  }

  taskFinished(id: number): void {
    this.#tasks.delete(id);
    this.#schedule();
  }

  /** Clears the live area and stops redrawing; later prints are plain. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!this.#closed && this.#opts.dynamic && this.#drawn > 0) this.#opts.stream.write(this.#erase());
    this.#closed = true;
  }

  #schedule(): void {
    if (!this.#opts.dynamic || this.#closed) return;
    if (this.#tasks.size === 0) {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#opts.stream.write(this.#erase());
      return;
    }
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#redraw(), this.#opts.redrawMs ?? 100);
      this.#timer.unref();
      this.#redraw();
    }
  }

  #redraw(): void {
    if (this.#closed) return;
    this.#opts.stream.write(`${this.#erase()}${this.#render()}`);
  }

  /** ANSI: move to the start of the live area and clear to the end of the screen. */
  #erase(): string {
    if (!this.#opts.dynamic || this.#drawn === 0) return '';
    const up = this.#drawn;
    this.#drawn = 0;
    return `\x1b[${up}F\x1b[0J`;
  }

  #render(): string {
    if (!this.#opts.dynamic || this.#tasks.size === 0) return '';
    const lines = liveLines([...this.#tasks.values()], this.#now(), this.#opts.width, this.#opts.maxLines ?? 12);
    this.#drawn = lines.length;
    return lines.map((l) => `${l}\n`).join('');
  }
}

/** The live area's text: longest-running first, elapsed time right-aligned, cut to the width. */
export function liveLines(tasks: readonly Task[], now: number, width: number, maxLines: number): string[] {
  const sorted = [...tasks].sort((a, b) => a.start - b.start);
  const shown = sorted.slice(0, sorted.length > maxLines ? maxLines - 1 : maxLines);
  const lines = shown.map((t) => {
    const secs = `${((now - t.start) / 1000).toFixed(1)}s`.padStart(7);
    const text = `${secs}  ${t.label}`;
    return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
  });
  if (sorted.length > shown.length) lines.push(`         … and ${sorted.length - shown.length} more`);
  return lines;
}
