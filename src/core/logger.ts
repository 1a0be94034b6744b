import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** Diagnostics for the log file, never for the user's terminal. */
export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

abstract class BaseLogger implements Logger {
  readonly level: LogLevel;
  readonly #rank: number;
  constructor(level: LogLevel) {
    this.level = level;
    this.#rank = LOG_LEVELS.indexOf(level);
  }
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#rank;
  }
  protected abstract write(level: LogLevel, msg: string): void;
  #log(level: LogLevel, msg: string): void {
    if (this.enabled(level)) this.write(level, msg);
  }
  trace(msg: string): void { this.#log('trace', msg); }
  debug(msg: string): void { this.#log('debug', msg); }
  info(msg: string): void { this.#log('info', msg); }
  warn(msg: string): void { this.#log('warn', msg); }
  error(msg: string): void { this.#log('error', msg); }
}

class NullLogger extends BaseLogger {
  constructor() {
    super('error');
  }
  override enabled(): boolean {
    return false;
  }
  protected write(): void {}
}

export const nullLogger: Logger = new NullLogger();

/**
 * Appends lines to a file. Synchronous appends keep ordering simple and survive a
 * crash; the log is low-volume (one line per RPC at debug level at most).
 */
class FileLogger extends BaseLogger {
  readonly #path: string;
  readonly #prefix: string;
  #broken = false;
  constructor(path: string, level: LogLevel, prefix: string) {
    super(level);
    this.#path = path;
    this.#prefix = prefix;
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch {
      this.#broken = true;
    }
  }
  protected write(level: LogLevel, msg: string): void {
    if (this.#broken) return;
    const line = `${new Date().toISOString()} ${this.#prefix}${level.toUpperCase().padEnd(5)} ${msg}\n`;
    try {
      appendFileSync(this.#path, line);
    } catch {
      // A full disk or a deleted work dir must not fail the build; the log is best-effort.
      this.#broken = true;
    }
  }
}

export function createFileLogger(path: string, level: LogLevel, prefix = ''): Logger {
  return new FileLogger(path, level, prefix);
}

/** Collects lines in memory; for tests and for buffering before the log file is known. */
export class MemoryLogger extends BaseLogger {
  readonly lines: string[] = [];
  constructor(level: LogLevel = 'trace') {
    super(level);
  }
  protected write(level: LogLevel, msg: string): void {
    this.lines.push(`${level} ${msg}`);
  }
}
