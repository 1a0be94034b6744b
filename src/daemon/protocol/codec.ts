import { ProtocolError } from './errors.js';

/**
 * The Nailgun chunk types, by the byte that names them on the wire. A const
 * object plus a union rather than a `const enum`, so that esbuild (which compiles
 * one file at a time for the thin client) and `tsc` agree on the values.
 */
export const ChunkType = {
  /** client → server: one command-line argument. */
  Argument: 'A',
  /** client → server: one environment entry, `KEY=VALUE`. */
  Environment: 'E',
  /** client → server: the client's working directory. */
  WorkingDirectory: 'D',
  /** client → server: the command; ends the preamble. */
  Command: 'C',
  /** client → server: stdin bytes, sent only in answer to StartInput. */
  Stdin: '0',
  /** client → server: stdin is at its end. */
  StdinEof: '.',
  /** client → server: the client is still there. */
  Heartbeat: 'H',
  /** server → client: send (more) stdin. */
  StartInput: 'S',
  /** server → client: stdout bytes. */
  Stdout: '1',
  /** server → client: stderr bytes. */
  Stderr: '2',
  /** server → client: the exit code in ASCII decimal; the last chunk of a session. */
  Exit: 'X',
} as const;

export type ChunkType = (typeof ChunkType)[keyof typeof ChunkType];

const ALL_CHUNK_TYPES: ReadonlySet<string> = new Set<string>(Object.values(ChunkType));

export function isChunkType(s: string): s is ChunkType {
  return ALL_CHUNK_TYPES.has(s);
}

export interface Chunk {
  readonly type: ChunkType;
  /** May share memory with the buffers pushed into the decoder; copy it to keep it past them. */
  readonly payload: Buffer;
}

/** 4-byte big-endian payload length, then 1 type byte. */
export const HEADER_BYTES = 5;
/** Largest length the header can express. */
export const MAX_WIRE_PAYLOAD_BYTES = 0xffff_ffff;
/**
 * Default bound on one incoming payload. Real chunks are small (the C client sends
 * at most 2 KiB of stdin, our server at most 256 KiB of output), so a bigger one
 * means a confused or hostile peer, and we refuse to buffer it.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** One chunk as it goes on the wire. Strings are sent as UTF-8. */
export function encodeChunk(type: ChunkType, payload: Uint8Array | string = ''): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.byteLength > MAX_WIRE_PAYLOAD_BYTES) {
    // A caller bug, not peer input: split output before encoding it.
    throw new RangeError(`a Nailgun chunk payload is at most ${MAX_WIRE_PAYLOAD_BYTES} bytes, got ${body.byteLength}`);
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.byteLength);
  out.writeUInt32BE(body.byteLength, 0);
  out[4] = type.charCodeAt(0);
  out.set(body, HEADER_BYTES);
  return out;
}

export type DecodeResult =
  | { readonly ok: true; readonly chunks: Chunk[] }
  /** `chunks` holds the well-formed chunks that preceded the bad one in this push. */
  | { readonly ok: false; readonly error: ProtocolError; readonly chunks: Chunk[] };

export type EndResult = { readonly ok: true } | { readonly ok: false; readonly error: ProtocolError };

export interface ChunkDecoderOptions {
  /** Larger payloads are a protocol error (default DEFAULT_MAX_PAYLOAD_BYTES). */
  readonly maxPayloadBytes?: number;
}

function describeTypeByte(b: number): string {
  const printable = b >= 0x21 && b <= 0x7e;
  return printable ? `'${String.fromCharCode(b)}' (0x${b.toString(16).padStart(2, '0')})` : `0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * Turns a byte stream cut at arbitrary points (one byte at a time, or many chunks
 * in one read) into whole chunks. The first malformed header poisons the decoder:
 * after it the stream cannot be re-synchronised, so every later call reports the
 * same error.
 */
export class ChunkDecoder {
  readonly #maxPayload: number;
  #pieces: Buffer[] = [];
  #head = 0;
  #buffered = 0;
  #header: { readonly type: ChunkType; readonly length: number } | undefined;
  #error: ProtocolError | undefined;

  constructor(options: ChunkDecoderOptions = {}) {
    const max = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`maxPayloadBytes must be a non-negative integer, got ${max}`);
    this.#maxPayload = Math.min(max, MAX_WIRE_PAYLOAD_BYTES);
  }

  /** Bytes received but not yet returned as part of a chunk. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(data: Uint8Array): DecodeResult {
    const chunks: Chunk[] = [];
    if (this.#error) return { ok: false, error: this.#error, chunks };
    if (data.byteLength > 0) {
      this.#pieces.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      this.#buffered += data.byteLength;
    }
    for (;;) {
      if (this.#header === undefined) {
        if (this.#buffered < HEADER_BYTES) break;
        const h = this.#take(HEADER_BYTES);
        const length = h.readUInt32BE(0);
        const typeByte = h[4] ?? 0;
        const type = String.fromCharCode(typeByte);
        // Both checks happen on the header alone, so a bad chunk is refused before
        // its payload is buffered.
        if (!isChunkType(type)) {
          return this.#fail(new ProtocolError('unknown-chunk-type', `unknown Nailgun chunk type ${describeTypeByte(typeByte)}`), chunks);
        }
        if (length > this.#maxPayload) {
          return this.#fail(
            new ProtocolError(
              'payload-too-large',
              `Nailgun chunk '${type}' declares a ${length}-byte payload, more than the limit of ${this.#maxPayload} bytes`,
            ),
            chunks,
          );
        }
        this.#header = { type, length };
      }
      if (this.#buffered < this.#header.length) break;
      chunks.push({ type: this.#header.type, payload: this.#take(this.#header.length) });
      this.#header = undefined;
    }
    return { ok: true, chunks };
  }

  /** The stream has ended: anything still buffered is a chunk cut short. */
  end(): EndResult {
    if (this.#error) return { ok: false, error: this.#error };
    if (this.#header !== undefined) {
      const { type, length } = this.#header;
      return {
        ok: false,
        error: this.#poison(
          new ProtocolError('truncated', `the connection ended inside a '${type}' chunk: got ${this.#buffered} of its ${length} payload bytes`),
        ),
      };
    }
    if (this.#buffered > 0) {
      return {
        ok: false,
        error: this.#poison(
          new ProtocolError('truncated', `the connection ended inside a chunk header: got ${this.#buffered} of ${HEADER_BYTES} bytes`),
        ),
      };
    }
    return { ok: true };
  }

  #fail(error: ProtocolError, chunks: Chunk[]): DecodeResult {
    return { ok: false, error: this.#poison(error), chunks };
  }

  #poison(error: ProtocolError): ProtocolError {
    this.#error = error;
    this.#pieces = [];
    this.#head = 0;
    this.#buffered = 0;
    this.#header = undefined;
    return error;
  }

  /** Removes and returns the first `n` buffered bytes; the caller checked they are there. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#pieces[this.#head];
    if (first !== undefined && first.byteLength >= n) {
      if (first.byteLength === n) this.#advance();
      else this.#pieces[this.#head] = first.subarray(n);
      return first.subarray(0, n);
    }
    // The bytes span several reads: copy them once into one buffer.
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.#pieces[this.#head];
      if (piece === undefined) throw new Error('ChunkDecoder: buffered byte count out of step with its pieces');
      const want = n - filled;
      if (piece.byteLength <= want) {
        out.set(piece, filled);
        filled += piece.byteLength;
        this.#advance();
      } else {
        out.set(piece.subarray(0, want), filled);
        this.#pieces[this.#head] = piece.subarray(want);
        filled = n;
      }
    }
    return out;
  }

  /**
   * Drops the first piece. An index instead of Array#shift keeps a payload fed one
   * byte at a time linear rather than quadratic; consumed slots are reclaimed in bulk.
   */
  #advance(): void {
    this.#head++;
    if (this.#head === this.#pieces.length) {
      this.#pieces = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#pieces.length) {
      this.#pieces = this.#pieces.slice(this.#head);
      this.#head = 0;
    }
  }
}
