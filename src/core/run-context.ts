import type { Readable, Writable } from 'node:stream';

/**
 * Everything a run may know about the process that asked for it. Run logic reads
 * these instead of `process.*`, which is what lets one daemon serve many clients.
 */
export interface RunContext {
  /** Arguments after the program name. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute working directory of the client. */
  readonly cwd: string;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly isTTY: { readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean };
  readonly terminalWidth: number;
  readonly terminalHeight: number;
  /** Aborted when the user cancels (Ctrl-C) or the client goes away. */
  readonly signal: AbortSignal;
}
