import type { Writable } from 'node:stream';
import { palette, type Palette } from './colors.js';

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
  /**
   * Not dynamic (a pipe, CI): after this long with nothing finished, say
   * what is still running, so a quiet log is not mistaken for a hung one.
   */
  readonly quietMs?: number;
  readonly palette?: Palette;
}

interface Task {
  readonly label: string;
  readonly start: number;
}

/** How far the goal is: `[done/total noun]`, as Bazel's `[37 / 120]`. */
export interface Progress {
  readonly done: number;
  readonly total: number;
  /** What is counted, plural: `tests`, `packages`. */
  readonly noun: string;
}

/** After this long with nothing finished, a non-dynamic console says what is still running. */
export const QUIET_MS = 10_000;

/**
 * A run's console: permanent lines (each result as it finishes), and under
 * them, on a terminal, a live area redrawn in place: how far the goal is and
 * the processes running right now, each with its elapsed time. On a terminal
 * that cannot redraw (or a pipe), only permanent lines are printed, and a
 * line naming what is still running when nothing finished for a while.
 */
export class LiveConsole {
  readonly #opts: LiveConsoleOptions;
  readonly #tasks = new Map<number, Task>();
  readonly #now: () => number;
  readonly #colors: Palette;
  #progress: Progress | undefined;
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #quietTimer: NodeJS.Timeout | undefined;
  #lastNews: number;
  #closed = false;

  constructor(opts: LiveConsoleOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => performance.now());
    this.#colors = opts.palette ?? palette(false);
    this.#lastNews = this.#now();
  }

  get dynamic(): boolean {
    return this.#opts.dynamic;
  }

  /** Prints a line (or several) that stays, above the live area. */
  print(line: string): void {
    this.#lastNews = this.#now();
    if (this.#closed) {
      this.#opts.stream.write(`${line}\n`);
      return;
    }
    this.#opts.stream.write(`${this.#erase()}${line}\n${this.#render()}`);
  }

  setProgress(progress: Progress): void {
    this.#progress = progress;
  }

  taskStarted(id: number, label: string): void {
    this.#tasks.set(id, { label, start: this.#now() });
    this.#schedule();
  }

  taskFinished(id: number): void {
    if (this.#tasks.delete(id)) this.#lastNews = this.#now();
    this.#schedule();
  }

  /** Clears the live area and stops redrawing; later prints are plain. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#quietTimer) clearInterval(this.#quietTimer);
    this.#timer = undefined;
    this.#quietTimer = undefined;
    if (!this.#closed && this.#opts.dynamic && this.#drawn > 0) this.#opts.stream.write(this.#erase());
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (!this.#opts.dynamic) {
      this.#watchQuiet();
      return;
    }
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

  /** Pipes get no redraws; a timer checks for long silences while anything runs. */
  #watchQuiet(): void {
    const quietMs = this.#opts.quietMs ?? QUIET_MS;
    if (this.#tasks.size === 0) {
      if (this.#quietTimer) clearInterval(this.#quietTimer);
      this.#quietTimer = undefined;
      return;
    }
    if (this.#quietTimer) return;
    this.#quietTimer = setInterval(() => this.#sayStillRunning(quietMs), Math.max(1, Math.min(1000, quietMs / 4)));
    this.#quietTimer.unref();
  }

  #sayStillRunning(quietMs: number): void {
    if (this.#closed || this.#tasks.size === 0) return;
    const now = this.#now();
    if (now - this.#lastNews < quietMs) return;
    this.print(stillRunningLine([...this.#tasks.values()], now, this.#progress));
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
    const width = this.#opts.width;
    const header = cut(progressHeader(this.#progress, this.#tasks.size), width);
    const lines = [this.#colors.bold(header), ...liveLines([...this.#tasks.values()], this.#now(), width, Math.max(1, (this.#opts.maxLines ?? 12) - 1))];
    this.#drawn = lines.length;
    return lines.map((l) => `${l}\n`).join('');
  }
}

/** `[3/10 tests] 2 processes running`. */
export function progressHeader(progress: Progress | undefined, running: number): string {
  const counted = progress === undefined ? '' : `[${progress.done}/${progress.total} ${progress.noun}] `;
  return `${counted}${running} process${running === 1 ? '' : 'es'} running`;
}

/** `[3/10 tests] still running: Run test_shell_command a:slow (12.0s), …`, longest-running first. */
export function stillRunningLine(tasks: readonly Task[], now: number, progress: Progress | undefined): string {
  const sorted = [...tasks].sort((a, b) => a.start - b.start);
  const shown = sorted.slice(0, 5).map((t) => `${t.label} (${((now - t.start) / 1000).toFixed(1)}s)`);
  const more = sorted.length > shown.length ? `, and ${sorted.length - shown.length} more` : '';
  const counted = progress === undefined ? '' : `[${progress.done}/${progress.total} ${progress.noun}] `;
  return `${counted}still running: ${shown.join(', ')}${more}`;
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
}

/** The live area's process lines: longest-running first, elapsed time right-aligned, cut to the width. */
export function liveLines(tasks: readonly Task[], now: number, width: number, maxLines: number): string[] {
  const sorted = [...tasks].sort((a, b) => a.start - b.start);
  const shown = sorted.slice(0, sorted.length > maxLines ? maxLines - 1 : maxLines);
  const lines = shown.map((t) => {
    const secs = `${((now - t.start) / 1000).toFixed(1)}s`.padStart(7);
    return cut(`${secs}  ${t.label}`, width);
  });
  if (sorted.length > shown.length) lines.push(`         … and ${sorted.length - shown.length} more`);
  return lines;
}
