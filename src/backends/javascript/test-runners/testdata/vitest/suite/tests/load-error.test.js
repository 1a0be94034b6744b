import { it } from 'vitest';

it('never registered', () => {});
throw new Error('cannot load');
