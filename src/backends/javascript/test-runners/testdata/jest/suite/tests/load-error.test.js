it('never registered', () => {});
throw new Error('cannot load');
