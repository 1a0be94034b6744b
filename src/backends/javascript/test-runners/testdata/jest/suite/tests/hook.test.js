describe('hooked', () => {
  beforeAll(() => {
    throw new Error('setup broke');
  });
  it('never runs', () => {});
});
