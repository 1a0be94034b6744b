import { Writable } from 'node:stream';
import { connectToDaemon, runOnDaemon } from './client.js';

/**
 * The Nailgun command a client sends instead of `trews` when it needs a daemon
 * with other options than the running one's: the daemon makes way for a
 * successor at once and finishes its runs before it exits (daemon.ts). A
 * daemon that predates it runs it as a `trews` command line, whose output is
 * not the answer below, and the client then stops it the old way.
 */
export const RETIRE_COMMAND = 'trews-daemon-retire';

/** The answer's first word; the number of runs the daemon still finishes follows. */
export const RETIRING = 'retiring';

/**
 * Asks the daemon listening on `socket` to retire. Resolves with the number of
 * runs it finishes before it exits, or undefined when it did not agree (an
 * older daemon, or one that does not answer), which must then be stopped.
 */
export async function retireDaemon(socket: string, reason: string, cwd: string): Promise<number | undefined> {
  let out = '';
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      cb();
    },
  });
  const discard = new Writable({ write: (_c, _e, cb) => cb() });
  try {
    const conn = await connectToDaemon(socket, { attempts: 1 });
    const code = await runOnDaemon(conn, {
      request: { command: RETIRE_COMMAND, args: [reason], env: {}, cwd },
      stdin: null,
      stdout,
      stderr: discard,
      answerTimeoutMs: 10_000,
      silenceTimeoutMs: 10_000,
    });
    const m = new RegExp(`^${RETIRING} (\\d+)\\n$`).exec(out);
    return code === 0 && m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
