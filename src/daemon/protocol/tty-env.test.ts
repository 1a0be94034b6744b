import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isNailgunEnvKey, terminalEnv, terminalFromEnv, withoutNailgunEnv } from './tty-env.js';

describe('terminal facts in the environment', () => {
  test('a client on a terminal sends flags, size and paths', () => {
    const env = terminalEnv({
      isTTY: { stdin: true, stdout: true, stderr: false },
      columns: 120,
      lines: 40,
      ttyPaths: { stdin: '/dev/pts/3', stdout: '/dev/pts/3', stderr: '/dev/pts/3' },
    });
    assert.deepEqual(env, {
      NAILGUN_TTY_0: '1',
      NAILGUN_TTY_PATH_0: '/dev/pts/3',
      NAILGUN_TTY_1: '1',
      NAILGUN_TTY_PATH_1: '/dev/pts/3',
      // Not a terminal: the path is left out even if given.
      NAILGUN_TTY_2: '0',
      NAILGUN_TERMINAL_COLUMNS: '120',
      NAILGUN_TERMINAL_LINES: '40',
    });
  });

  test('a client on pipes sends only the flags', () => {
    assert.deepEqual(terminalEnv({ isTTY: { stdin: false, stdout: false, stderr: false }, columns: 0 }), {
      NAILGUN_TTY_0: '0',
      NAILGUN_TTY_1: '0',
      NAILGUN_TTY_2: '0',
    });
  });

  test('the server reads back what the client sent', () => {
    const sent = { isTTY: { stdin: false, stdout: true, stderr: true }, columns: 80, lines: 24, ttyPaths: { stdout: '/dev/tty1' } };
    assert.deepEqual(terminalFromEnv(terminalEnv(sent)), { ...sent, ttyPaths: { stdout: '/dev/tty1' } });
  });

  test('missing or unreadable values mean "not a terminal" and "unknown size"', () => {
    assert.deepEqual(terminalFromEnv({ NAILGUN_TTY_0: 'yes', NAILGUN_TTY_1: '', NAILGUN_TERMINAL_COLUMNS: '-3', NAILGUN_TERMINAL_LINES: '1e3' }), {
      isTTY: { stdin: false, stdout: false, stderr: false },
      columns: undefined,
      lines: undefined,
      ttyPaths: {},
    });
  });

  test('any positive isatty() result from the C client counts as a terminal', () => {
    assert.equal(terminalFromEnv({ NAILGUN_TTY_2: '1' }).isTTY.stderr, true);
    assert.equal(terminalFromEnv({ NAILGUN_TTY_2: '7' }).isTTY.stderr, true);
    assert.equal(terminalFromEnv({ NAILGUN_TTY_2: '0' }).isTTY.stderr, false);
  });

  test('inherited properties are not mistaken for entries', () => {
    const env = Object.create({ NAILGUN_TTY_0: '1' }) as Record<string, string>;
    assert.equal(terminalFromEnv(env).isTTY.stdin, false);
  });

  test('the connection entries are removed from the user environment', () => {
    const env = {
      PATH: '/bin',
      NAILGUN_TTY_0: '1',
      NAILGUN_TTY_PATH_0: '/dev/pts/1',
      NAILGUN_TERMINAL_COLUMNS: '80',
      NAILGUN_TERMINAL_LINES: '24',
      NAILGUN_FILESEPARATOR: '/',
      NAILGUN_PATHSEPARATOR: ':',
      NAILGUN_SERVER: 'keep me: the user set it',
    };
    assert.deepEqual({ ...withoutNailgunEnv(env) }, { PATH: '/bin', NAILGUN_SERVER: 'keep me: the user set it' });
    assert.ok(isNailgunEnvKey('NAILGUN_TTY_1'));
    assert.ok(!isNailgunEnvKey('NAILGUN_PORT'));
  });
});
