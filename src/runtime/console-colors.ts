import type { RunContext } from '../core/index.js';
import { GLOBAL, type Options } from '../options/index.js';
import { colorEnabled, palette, type Palette } from '../ui/index.js';

/**
 * The colours of a run's console (its stderr): on for a terminal, off for a
 * pipe, `NO_COLOR` or `--colors=false`, forced by `FORCE_COLOR`, all as the
 * client that started the run sees them (a daemon's own terminal is nobody's).
 */
export function consoleColors(ctx: Pick<RunContext, 'env' | 'isTTY'>, options: Options): Palette {
  const colors = options.withSource(GLOBAL, 'colors');
  return palette(colorEnabled({ option: colors.value === true, optionSet: colors.source.type !== 'default', env: ctx.env, isTTY: ctx.isTTY.stderr }));
}
