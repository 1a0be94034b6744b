import { closeSync, constants, openSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { stampFollowing, stampOf } from '../fs/index.js';
import { formatElapsed } from '../ui/index.js';
import { parseReplayRecord, replayFile, sortedEnvironment } from './replay-format.js';

/** What the Node client knows when it would run a command in this process. */
export interface ReplayRequest {
  readonly root: string;
  /** The build root's work directory (`.trews.d`). */
  readonly workDir: string;
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** performance.now() at the client's start, for the summaries' time. */
  readonly startedAt: number;
}

/** A replay's output in order, and its exit code. */
export interface Replayed {
  readonly chunks: readonly { readonly fd: 1 | 2; readonly bytes: Buffer }[];
  readonly exitCode: number;
}

/**
 * The Node client's replay of a proven no-op: what the native client does
 * (src/native-client/replay.c), for a trews without it (an npm install, no
 * C compiler). It spares the bundle, the kept graph and the run, not Node's
 * own start. Every fact and stamp of the record must hold, checked as the
 * native client checks them, except that node is the one running: its real
 * path must be the record's. Returns the output to write and the code, or
 * undefined (nothing written) when the run must be Node's.
 */
export function replayProven(req: ReplayRequest): Replayed | undefined {
  try {
    return check(req);
  } catch {
    // Whatever the check could not read (node's real path, a record unreadable midway): the run is Node's.
    return undefined;
  }
}

function check(req: ReplayRequest): Replayed | undefined {
  let bytes: Buffer;
  const file = replayFile(req.workDir, req.cwd, req.argv);
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  const fields = parseReplayRecord(bytes);
  if (fields === undefined) return undefined;
  const env = sortedEnvironment(req.env);
  const text = (b: Buffer): string => b.toString('utf8');
  let args = 0;
  let vars = 0;
  let stamps = 0;
  let sawNode = false;
  let exitCode: number | undefined;
  const outputs: { fd: 1 | 2; elapsed: boolean; bytes: Buffer }[] = [];
  /** Restorable outputs per group: this check replays only when every one is as recorded (the native client restores). */
  const outputsIn = new Map<string, number>();
  let group: string | undefined;
  /** Whether a root-relative path of the record (never absolute, never with `..`) has its stamp now. */
  const stampHolds = (path: string, stamp: Buffer | undefined): boolean => {
    if (stamp === undefined || path.startsWith('/') || path.split('/').includes('..')) return false;
    return stampOf(req.root, path) === text(stamp);
  };
  for (let i = 0; i < fields.length; i++) {
    const { tag, value } = fields[i]!;
    switch (tag) {
      case 'u':
        if (text(value) !== String(process.geteuid?.() ?? -1)) return undefined;
        break;
      case 'g':
        if (text(value) !== String(process.getegid?.() ?? -1)) return undefined;
        break;
      case 'c':
        if (text(value) !== req.cwd) return undefined;
        break;
      case 'a':
        if (args >= req.argv.length || text(value) !== req.argv[args]) return undefined;
        args++;
        break;
      case 'e':
        if (vars >= env.length || !value.equals(env[vars]!)) return undefined;
        vars++;
        break;
      case 'n':
        if (text(value) !== realpathSync(process.execPath)) return undefined;
        sawNode = true;
        break;
      case 'p':
      case 'q': {
        const next = fields[++i];
        if (next?.tag !== 's') return undefined;
        const path = text(value);
        const holds = tag === 'p' ? stampHolds(path, next.value) : path.startsWith('/') && stampFollowing(path) === text(next.value);
        if (!holds) return undefined;
        stamps++;
        break;
      }
      case 'P':
      case 'D':
        // A listed directory, or one under a restorable output directory: its stamp, then its listing.
        if (fields[i + 1]?.tag !== 's' || fields[i + 2]?.tag !== 'L' || !stampHolds(text(value), fields[i + 1]!.value)) return undefined;
        i += 2;
        stamps++;
        break;
      case 'B':
        if (fields[i + 1]?.tag !== 'k') return undefined;
        group = text(fields[++i]!.value);
        break;
      case 'F':
      case 'Y': {
        // An output (its digest or link target, then its stamp): as recorded, or the run is Node's.
        if (group === undefined || (fields[i + 1]?.tag !== (tag === 'F' ? 'h' : 'l')) || fields[i + 2]?.tag !== 's') return undefined;
        if (!stampHolds(text(value), fields[i + 2]!.value)) return undefined;
        i += 2;
        stamps++;
        outputsIn.set(group, (outputsIn.get(group) ?? 0) + 1);
        break;
      }
      case 'm':
        // A blob the native client would copy from: nothing is copied here.
        if (fields[++i]?.tag !== 's') return undefined;
        break;
      case 'w':
      case 'v': {
        const n = outputsIn.get(text(value));
        if (n === undefined) return undefined;
        outputs.push({ fd: tag === 'w' ? 1 : 2, elapsed: false, bytes: Buffer.from(`0 files written, ${n} unchanged`) });
        break;
      }
      case 'o':
      case 'r':
        outputs.push({ fd: tag === 'o' ? 1 : 2, elapsed: false, bytes: value });
        break;
      case 't':
        if (text(value) !== '1' && text(value) !== '2') return undefined;
        outputs.push({ fd: text(value) === '1' ? 1 : 2, elapsed: true, bytes: value });
        break;
      case 'x': {
        const code = Number(text(value));
        if (!Number.isInteger(code) || code < 0 || code > 255) return undefined;
        exitCode = code;
        break;
      }
      case 'z':
        break;
      default:
        return undefined;
    }
  }
  if (args !== req.argv.length || vars !== env.length || !sawNode || exitCode === undefined) return undefined;
  const elapsed = Buffer.from(formatElapsed(performance.now() - req.startedAt));
  try {
    // Only to a log that exists, as the native client does.
    const fd = openSync(`${req.workDir}/trews.log`, constants.O_WRONLY | constants.O_APPEND);
    try {
      writeSync(fd, `${new Date().toISOString()} INFO  run: trews ${req.argv.join(' ')} (cwd ${req.cwd}): replayed by the Node client from ${file.slice(req.root.length + 1)}, ${stamps} stamps unchanged\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The log only tells; a replay does not depend on it.
  }
  return { chunks: outputs.map((o) => ({ fd: o.fd, bytes: o.elapsed ? elapsed : o.bytes })), exitCode };
}
