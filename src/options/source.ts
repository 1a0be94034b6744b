import { unreachable } from '../core/index.js';
import type { OptionSource } from './types.js';

/** `default`, `trews.toml:12`, `env TREWS_X`, `flag --x`: how help and errors name a source. */
export function describeSource(s: OptionSource): string {
  switch (s.type) {
    case 'default':
      return 'default';
    case 'config':
      return s.line !== undefined ? `${s.file}:${s.line}` : s.file;
    case 'env':
      return `env ${s.name}`;
    case 'flag':
      return `flag ${s.flag}`;
    default:
      return unreachable(s, 'option source');
  }
}
