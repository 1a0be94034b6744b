import { ChunkType, encodeChunk } from './codec.js';
import { ProtocolError } from './errors.js';

/**
 * Implementations disagree on the exit chunk's payload: the Java server prints the
 * code with `println` (so `0\n`, or `0\r\n` on Windows), Pants' servers send the bare
 * digits. We send the bare digits, which every client reads: the C client uses
 * atoi, Python's int() strips whitespace, and a strict integer parse (as in Rust's
 * `str::parse`) would choke on a newline. We accept all three forms.
 */
export function encodeExit(code: number): Buffer {
  if (!Number.isInteger(code) || code < -0x8000_0000 || code > 0x7fff_ffff) {
    throw new RangeError(`an exit code must be a 32-bit integer, got ${code}`);
  }
  return encodeChunk(ChunkType.Exit, String(code));
}

const EXIT_PAYLOAD = /^(-?\d{1,10})(?:\r?\n)?$/;

export type ExitCodeResult = { readonly ok: true; readonly code: number } | { readonly ok: false; readonly error: ProtocolError };

export function decodeExitCode(payload: Uint8Array): ExitCodeResult {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1');
  const m = EXIT_PAYLOAD.exec(text);
  const code = m?.[1] === undefined ? NaN : Number(m[1]);
  if (!Number.isInteger(code) || code < -0x8000_0000 || code > 0x7fff_ffff) {
    const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
    return { ok: false, error: new ProtocolError('malformed-exit-code', `the exit chunk holds ${shown}, not a decimal exit code`) };
  }
  return { ok: true, code };
}
