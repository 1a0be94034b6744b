import { PassThrough, Writable } from 'node:stream';
import { isatty } from 'node:tty';

/**
 * process.stdin and process.stderr are built on first access, which costs the
 * client a few milliseconds of start-up each, while most commands never read
 * input and print nothing on stderr. These stand in for them until used.
 */

/** A Readable that attaches process.stdin only when read (the daemon asked for input). */
export function lazyStdin(): PassThrough {
  let attached = false;
  const out = new PassThrough({
    read(size) {
      if (!attached) {
        attached = true;
        process.stdin.on('error', (e) => out.destroy(e));
        process.stdin.pipe(out);
      }
      PassThrough.prototype._read.call(this, size);
    },
  });
  return out;
}

/** A Writable that creates the real stream on the first write, and says whether it did. */
export function lazyWritable(get: () => NodeJS.WriteStream): { stream: Writable; used: () => boolean } {
  let real: NodeJS.WriteStream | undefined;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      real ??= get();
      // Done when the real stream has taken it (or failed: a closed pipe must not stall us).
      real.write(chunk, () => done());
    },
  });
  return { stream, used: () => real !== undefined };
}

/** Whether fd 0, 1 and 2 are terminals, asked of the OS without building the streams. */
export function ttys(): { stdin: boolean; stdout: boolean; stderr: boolean } {
  return { stdin: isatty(0), stdout: isatty(1), stderr: isatty(2) };
}
