describe('hooked', () => {
  before(() => {
    throw new Error('setup broke');
  });
  it('never runs', () => {});
});
