import { type Chunk, ChunkType, encodeChunk } from './codec.js';
import { ProtocolError } from './errors.js';

/** What a client asks the server to run: everything the preamble carries. */
export interface NailgunRequest {
  readonly command: string;
  readonly args: readonly string[];
  /** A null-prototype record: keys come from the peer, so `__proto__` must be just a key. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

export type RequestStep =
  | { readonly status: 'more' }
  | { readonly status: 'done'; readonly request: NailgunRequest }
  | { readonly status: 'error'; readonly error: ProtocolError };

const MORE: RequestStep = { status: 'more' };

/**
 * Collects the preamble a client sends before its command runs:
 *
 *     (Argument | Environment)*  WorkingDirectory  Command
 *
 * Arguments and environment entries may interleave (the C client sends all
 * arguments first, other clients need not), the working directory comes once and
 * after them, and the command ends the preamble. Anything else is refused: a
 * stdin or heartbeat chunk before the command, a second working directory, an
 * argument after the working directory, any chunk after the command.
 */
export class RequestBuilder {
  readonly #args: string[] = [];
  readonly #env: Record<string, string> = Object.create(null) as Record<string, string>;
  #cwd: string | undefined;
  #done = false;
  #error: ProtocolError | undefined;

  accept(chunk: Chunk): RequestStep {
    if (this.#error) return { status: 'error', error: this.#error };
    if (this.#done) {
      return this.#fail(`the preamble already ended with its command; got a '${chunk.type}' chunk for it`);
    }
    const text = chunk.payload.toString('utf8');
    switch (chunk.type) {
      case ChunkType.Argument:
      case ChunkType.Environment: {
        if (this.#cwd !== undefined) {
          const what = chunk.type === ChunkType.Argument ? 'an argument' : 'an environment entry';
          return this.#fail(`${what} ('${chunk.type}') came after the working directory; arguments and environment come first`);
        }
        if (chunk.type === ChunkType.Argument) {
          this.#args.push(text);
          return MORE;
        }
        // Search from index 1: Windows has entries such as `=C:=C:\src` whose key starts with '='.
        const eq = text.indexOf('=', 1);
        if (eq < 0) {
          const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
          this.#error = new ProtocolError('malformed-environment', `environment entry ${shown} has no '=' between a name and a value`);
          return { status: 'error', error: this.#error };
        }
        this.#env[text.slice(0, eq)] = text.slice(eq + 1);
        return MORE;
      }
      case ChunkType.WorkingDirectory:
        if (this.#cwd !== undefined) return this.#fail('the working directory (\'D\') was sent twice');
        this.#cwd = text;
        return MORE;
      case ChunkType.Command:
        if (this.#cwd === undefined) {
          this.#error = new ProtocolError('missing-working-directory', 'the command (\'C\') came before the working directory (\'D\')');
          return { status: 'error', error: this.#error };
        }
        this.#done = true;
        return { status: 'done', request: { command: text, args: this.#args, env: this.#env, cwd: this.#cwd } };
      default:
        return this.#fail(`a '${chunk.type}' chunk arrived before the command; only 'A', 'E', 'D' and 'C' may open a session`);
    }
  }

  #fail(message: string): RequestStep {
    this.#error = new ProtocolError('unexpected-chunk', message);
    return { status: 'error', error: this.#error };
  }
}

/**
 * The preamble for `request`, one encoded chunk per element, in the order the C
 * client uses: arguments, environment, working directory, command. A key with
 * '=' (after its first character) cannot survive the `KEY=VALUE` form, so it is a
 * caller bug, not something to send and have misread.
 */
export function encodeRequest(request: NailgunRequest): Buffer[] {
  const out: Buffer[] = [];
  for (const arg of request.args) out.push(encodeChunk(ChunkType.Argument, arg));
  for (const [key, value] of Object.entries(request.env)) {
    if (key.length === 0 || key.indexOf('=', 1) >= 0) {
      throw new RangeError(`environment variable name ${JSON.stringify(key)} cannot be sent as a Nailgun KEY=VALUE entry`);
    }
    out.push(encodeChunk(ChunkType.Environment, `${key}=${value}`));
  }
  out.push(encodeChunk(ChunkType.WorkingDirectory, request.cwd));
  out.push(encodeChunk(ChunkType.Command, request.command));
  return out;
}
