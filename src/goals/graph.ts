import { spawn } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { closest, failure, FailureError, type RunContext } from '../core/index.js';
import { adjacency, between, renderGraphPage, type GraphJson } from '../graph-page/index.js';
import { timelinePage } from './graph-runs.js';
import { DependenciesKey, transitiveDependencies } from '../targets/index.js';
import type { Goal, GoalContext } from './goal.js';
import { graphJson } from './graph-data.js';
import { serveGraph, type GraphServer, type PageRoute } from './graph-server.js';
import type { Options } from '../options/index.js';
import { resolveTargets, targetsAt } from './target-set.js';

/** The page's script, bundled by scripts/bundle.mjs next to dist/src. */
const PAGE_SCRIPT = new URL('../../graph-page.js', import.meta.url);

async function pageScript(): Promise<string> {
  try {
    return await readFile(PAGE_SCRIPT, 'utf8');
  } catch (e) {
    throw new FailureError(
      failure('internal', 'graph-page-missing', `the graph page's script is missing (${PAGE_SCRIPT.pathname}): ${(e as Error).message}`, { hints: ['build trews with `npm run build`'] }),
    );
  }
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise<void>((res) => {
    stream.write(text, () => res());
  });
}

/** `--from`/`--to` name targets of the graph; `//src/app:app` and `src/app:app` are the same. */
function focusOf(g: GoalContext, data: Pick<GraphJson, 'nodes'>): { from: string; to: string } | null {
  const from = g.options.maybeString('graph', 'from');
  const to = g.options.maybeString('graph', 'to');
  if (from === null && to === null) return null;
  if (from === null || to === null) {
    throw new FailureError(failure('input', 'graph-focus', `\`--${from === null ? 'to' : 'from'}\` needs \`--${from === null ? 'from' : 'to'}\`: the focus shows the paths between two targets`, { exitCode: 2 }));
  }
  const known = new Set(data.nodes.map((n) => n.address));
  const norm = (flag: string, a: string): string => {
    const address = a.startsWith('//') && !a.startsWith('//:') ? a.slice(2) : a;
    if (known.has(address)) return address;
    const guess = closest(address, known);
    throw new FailureError(
      failure('input', 'graph-focus', `\`--${flag}\` names \`${a}\`, which is not a target of the graph`, {
        exitCode: 2,
        hints: [guess !== undefined ? `did you mean ${guess}?` : '`trews list ::` lists the targets; the graph holds those the specs select and their dependencies'],
      }),
    );
  };
  return { from: norm('from', from), to: norm('to', to) };
}

/** Opens the URL with the desktop's opener, when there is one; says so when there is not. */
function openBrowser(ctx: RunContext, url: string): Promise<void> {
  // $BROWSER first, as xdg-open and most tools honour it; then the desktop's opener.
  const browser = ctx.env['BROWSER']?.split(':').find((b) => b.trim() !== '');
  const opener = browser ?? (process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open');
  return new Promise<void>((res) => {
    const child = spawn(opener, [url], { env: { ...ctx.env }, stdio: 'ignore', detached: true });
    child.once('error', () => {
      void write(ctx.stderr, `trews graph: cannot open a browser (no \`${opener}\`${browser !== undefined ? ', from $BROWSER' : ''}); open ${url} yourself\n`).then(res);
    });
    child.once('spawn', () => {
      child.unref();
      res();
    });
  });
}

export const graphGoal: Goal = {
  name: 'graph',
  help:
    'Show the target graph of the specs (`::` by default) in the browser: served on 127.0.0.1 at a printed URL until Ctrl-C, or written as one self-contained HTML file with --output. Nodes are coloured by type or package, inferred dependencies drawn apart from declared ones; click a target to highlight what it depends on and what depends on it.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'graph', help: this.help, isGoal: true });
    registry.register({ scope: 'graph', name: 'output', type: 'path', default: null, help: 'Write the page to this HTML file (relative to the working directory) instead of serving it. The file needs no network.' });
    registry.register({ scope: 'graph', name: 'open', type: 'bool', default: false, help: 'Open the served page (or the written file) in the desktop browser, when one is available.' });
    registry.register({ scope: 'graph', name: 'from', type: 'string', default: null, help: 'With --to: open the page showing only the dependency paths from this target to that one.' });
    registry.register({ scope: 'graph', name: 'to', type: 'string', default: null, help: 'With --from: the target the focused paths lead to.' });
    registry.register({
      scope: 'graph',
      name: 'runs',
      type: 'bool',
      default: false,
      help: 'Show a recorded run (see run_history) as a timeline instead of the target graph: one lane per concurrent slot, processes coloured by cache source, totals per source, and what re-ran since the run before it and why. The latest run unless --run.',
    });
    registry.register({ scope: 'graph', name: 'run', type: 'string', default: null, help: 'With --runs (implied): the id of the recorded run to show (the end of its file name in .trews.d/runs).' });
    registry.register({ scope: 'graph', name: 'compare', type: 'string', default: null, help: 'With --runs (implied): the id of the recorded run to compare with; the one before the shown run by default.' });
  },
  follows: servesGraph,
  async execute(g) {
    if (timelineAsked(g.options) || g.options.maybeString('graph', 'run') !== null || g.options.maybeString('graph', 'compare') !== null) {
      // A timeline needs no target graph: it works even when a BUILD file no longer parses.
      g.run.end();
      const page = await timelinePage(g);
      // Served, the page switches runs: `/?run=ID&compare=ID` is the page of that run.
      const route: PageRoute = (q) =>
        timelinePage(g, { run: q.get('run'), compare: q.get('compare') }).then(
          (p) => ({ html: p.html }),
          (e: unknown) => ({ error: e instanceof FailureError ? [e.failure.message, ...(e.failure.hints ?? [])].join('\n') : String(e) }),
        );
      return await deliver(g, page.html, page.json, page.summary, route);
    }
    const selected = await resolveTargets(g.ctx, g.run, g.project, g.options, g.cwdRel, 'graph', ['::']);
    const roots = selected.map((t) => t.addr);
    const below = await transitiveDependencies(g.run, g.project, roots);
    const targets = [...selected, ...(await targetsAt(g.run, g.project, below))];
    const dependencies = await g.run.getAll(targets.map((t) => new DependenciesKey(g.project, t.addr)));
    const specs = g.options.commandLine.specs.length > 0 ? g.options.commandLine.specs : ['::'];
    const base = { title: basename(g.root), specs, targets, dependencies, selected: new Set(selected.map((t) => t.address)) };
    const data = graphJson({ ...base, focus: null });
    const focus = focusOf(g, data);
    const json: GraphJson = { ...data, focus };
    if (focus !== null) {
      const adj = adjacency(json);
      if (between(adj, adj.index.get(focus.from)!, adj.index.get(focus.to)!).size === 0) {
        await write(g.ctx.stderr, `trews graph: no dependency path leads from ${focus.from} to ${focus.to}; the page says so\n`);
      }
    }
    // What the page shows is computed: the graph is released, so a daemon serving the page runs other commands meanwhile.
    g.run.end();
    const page = renderGraphPage(json, await pageScript());
    const summary = `${json.nodes.length} targets, ${json.edges.length} dependencies`;
    if (servesGraph(g.options)) return await serveFollowing(g, page, JSON.stringify(json), summary);
    return await deliver(g, page, JSON.stringify(json), summary);
  },
};

/** A served graph follows BUILD files and package.json; a written file and a run's timeline are snapshots. */
function servesGraph(options: Options): boolean {
  return options.maybePath('graph', 'output') === null && !timelineAsked(options);
}

function timelineAsked(options: Options): boolean {
  return options.bool('graph', 'runs') || options.maybeString('graph', 'run') !== null || options.maybeString('graph', 'compare') !== null;
}

/**
 * Serves the target graph on 127.0.0.1; the runner runs the goal again on
 * every change to a file the graph was read from (`follows`), and each run
 * after the first hands the server the new page, which open pages load.
 */
async function serveFollowing(g: GoalContext, page: string, json: string, summary: string): Promise<number> {
  const running = g.session.get<GraphServer>('graph-server');
  if (running !== undefined) {
    running.update(page, json);
    await write(g.ctx.stderr, `trews graph: the graph changed (${summary}); open pages reload\n`);
    return 0;
  }
  const server = await serveGraph(page, json);
  g.session.set('graph-server', server, () => server.close());
  await write(g.ctx.stdout, `${server.url}\n`);
  await write(g.ctx.stderr, `trews graph: serving ${summary} at ${server.url}; it follows changes to BUILD files and package.json (Ctrl-C to stop)\n`);
  if (g.options.bool('graph', 'open')) await openBrowser(g.ctx, server.url);
  return 0;
}

/** Writes the page to --output, or serves it on 127.0.0.1 until Ctrl-C. */
async function deliver(g: GoalContext, page: string, json: string, summary: string, route?: PageRoute): Promise<number> {
  const output = g.options.maybePath('graph', 'output');
  if (output !== null) {
    const dest = resolve(g.ctx.cwd, output);
    const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
    try {
      await writeFile(tmp, page);
      await rename(tmp, dest);
    } catch (e) {
      throw new FailureError(failure('environment', 'output-file', `cannot write --output ${output}: ${(e as Error).message}`, { hints: ['check that its directory exists and is writable'] }));
    }
    await write(g.ctx.stderr, `trews graph: wrote ${output} (${summary})\n`);
    if (g.options.bool('graph', 'open')) await openBrowser(g.ctx, `file://${dest}`);
    return 0;
  }
  const server = await serveGraph(page, json, route);
  try {
    await write(g.ctx.stdout, `${server.url}\n`);
    await write(g.ctx.stderr, `trews graph: serving ${summary} at ${server.url} (Ctrl-C to stop)\n`);
    if (g.options.bool('graph', 'open')) await openBrowser(g.ctx, server.url);
    await new Promise<void>((res) => {
      if (g.ctx.signal.aborted) res();
      else g.ctx.signal.addEventListener('abort', () => res(), { once: true });
    });
  } finally {
    await server.close();
  }
  return 0;
}
