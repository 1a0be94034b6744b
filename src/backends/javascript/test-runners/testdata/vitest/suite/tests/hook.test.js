import { beforeAll, describe, it } from 'vitest';

describe('hooked', () => {
  beforeAll(() => {
    throw new Error('setup broke');
  });
  it('never runs', () => {});
});
