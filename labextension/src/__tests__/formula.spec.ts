import { labelAddress, stripLabel } from '../formula';

describe('labels', () => {
  it('splits a first-line label from the code', () => {
    expect(stripLabel('# @B3 total\nA1 * 2')).toEqual({
      label: '# @B3 total',
      body: 'A1 * 2'
    });
    expect(stripLabel('A1 * 2')).toEqual({ label: null, body: 'A1 * 2' });
    expect(stripLabel('# a comment\nx')).toEqual({
      label: null,
      body: '# a comment\nx'
    });
    expect(stripLabel('# @A1')).toEqual({ label: '# @A1', body: '' });
  });

  it('reads the label address', () => {
    expect(labelAddress('# @C12 model lazy\nx')).toBe('C12');
    expect(labelAddress('x = 1')).toBeNull();
  });
});
