import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** What CDP answers an evaluation whose page navigated away meanwhile. */
const NAVIGATED = /Inspected target navigated or closed|Execution context was destroyed|Cannot find context with specified id/;

/** Debian's `chromium` (or another name of it), or undefined when none is installed. */
export function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return undefined;
}

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };

/**
 * A headless chromium driven over the Chrome DevTools Protocol on a pipe
 * (`--remote-debugging-pipe`: JSON messages separated by NUL on fds 3 and 4),
 * which needs neither a port nor a WebSocket client. One page, attached in
 * flat mode.
 */
/**
 * The chromium binary a browser test drives, or undefined after skipping the
 * test (`t`) for want of one; under CI=true (where .ci/run installs it) a
 * missing chromium fails the test instead.
 */
export function chromiumOrSkip(t: { skip(message?: string): void }): string | undefined {
  const chromium = findChromium();
  if (chromium !== undefined) return chromium;
  const why = "no `chromium` on PATH: install Debian's chromium (`apt-get install chromium`; .ci/run does)";
  if (process.env['CI'] === 'true') throw new Error(why);
  t.skip(why);
  return undefined;
}

export class HeadlessPage {
  readonly #child: ChildProcess;
  readonly #profile: string;
  readonly #out: Writable;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  readonly #listeners: ((m: Message) => void)[] = [];
  #session = '';
  #stderr = '';

  private constructor(child: ChildProcess, profile: string) {
    this.#child = child;
    this.#profile = profile;
    this.#out = child.stdio[3] as Writable;
    let buf = '';
    (child.stdio[4] as Readable).setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\0'); i >= 0; i = buf.indexOf('\0')) {
        const m = JSON.parse(buf.slice(0, i)) as Message;
        buf = buf.slice(i + 1);
        if (m.id !== undefined) {
          const p = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          if (m.error) p?.reject(new Error(`CDP: ${m.error.message}`));
          else p?.resolve(m.result ?? {});
        } else for (const l of this.#listeners) l(m);
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.#stderr += d));
    child.once('exit', (code, sig) => {
      for (const p of this.#pending.values()) p.reject(new Error(`chromium exited (${code ?? sig}):\n${this.#stderr.slice(-2000)}`));
      this.#pending.clear();
    });
  }

  static async launch(binary: string): Promise<HeadlessPage> {
    const profile = await mkdtemp(join(tmpdir(), 'trews-chromium-'));
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--window-size=1400,900', 'about:blank'];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const page = new HeadlessPage(child, profile);
    const { targetInfos } = (await page.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string }[] };
    let target = targetInfos.find((t) => t.type === 'page')?.targetId;
    target ??= ((await page.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string }).targetId;
    page.#session = ((await page.send('Target.attachToTarget', { targetId: target, flatten: true })) as { sessionId: string }).sessionId;
    await page.send('Page.enable', {}, true);
    await page.send('Runtime.enable', {}, true);
    return page;
  }

  send(method: string, params: Record<string, unknown> = {}, onPage = false): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const msg: Message & { method: string } = { id, method, params, ...(onPage ? { sessionId: this.#session } : {}) };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#out.write(`${JSON.stringify(msg)}\0`);
    });
  }

  /** Loads a URL and waits for its load event. */
  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const l = (m: Message): void => {
        if (m.method === 'Page.loadEventFired' && m.sessionId === this.#session) {
          this.#listeners.splice(this.#listeners.indexOf(l), 1);
          resolve();
        }
      };
      this.#listeners.push(l);
    });
    const r = (await this.send('Page.navigate', { url }, true)) as { errorText?: string };
    if (r.errorText) throw new Error(`cannot load ${url}: ${r.errorText}`);
    await loaded;
  }

  /** The value of an expression evaluated in the page (awaited, returned by value); a thrown error fails. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, true)) as {
      result: { value?: T };
      exceptionDetails?: { exception?: { description?: string }; text: string };
    };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /**
   * Polls an expression until it is truthy, with a generous deadline. A poll
   * that a navigation cut short (a link just clicked: the page it ran in is
   * gone) is not an answer: the next one asks the new page.
   */
  async waitFor(expression: string, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let done = false;
      try {
        done = await this.evaluate<boolean>(`Boolean(${expression})`);
      } catch (e) {
        if (!NAVIGATED.test(e instanceof Error ? e.message : String(e))) throw e;
      }
      if (done) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A real mouse click (pressed and released) at page coordinates. */
  async click(x: number, y: number): Promise<void> {
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await this.send('Input.dispatchMouseEvent', { type, x, y, button: 'left', buttons: type === 'mousePressed' ? 1 : 0, clickCount: 1 }, true);
    }
  }

  async screenshot(): Promise<Buffer> {
    const r = (await this.send('Page.captureScreenshot', { format: 'png' }, true)) as { data: string };
    return Buffer.from(r.data, 'base64');
  }

  /** Stops the browser by its pid and removes its profile. */
  async close(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise((r) => this.#child.once('exit', r));
      this.#child.kill('SIGKILL');
      await exited;
    }
    await rm(this.#profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }
}
