import { formatMs, formatRate, formatRatio, formatTable, ratio } from './report';

describe('formatTable', () => {
  it('aligns columns under their headers', () => {
    const table = formatTable(
      [
        { header: 'impl', align: 'left' },
        { header: 'ops/s', align: 'right' },
      ],
      [
        ['adapter', '1,200'],
        ['baseline', '31,000'],
      ],
    );
    expect(table.split('\n')).toEqual(['impl       ops/s', '--------  ------', 'adapter    1,200', 'baseline  31,000']);
  });

  it('refuses a row with the wrong number of cells', () => {
    expect(() => formatTable([{ header: 'a', align: 'left' }], [['1', '2']])).toThrow(RangeError);
  });
});

describe('number formats', () => {
  it('formats rates, milliseconds and ratios with fixed precision', () => {
    expect(formatRate(12_345.6)).toBe('12,346');
    expect(formatMs(0.12345)).toBe('0.123');
    expect(formatMs(undefined)).toBe('-');
    expect(formatRatio(0.256)).toBe('0.26x');
    expect(formatRatio(ratio(1, 0))).toBe('-');
    expect(ratio(3, 4)).toBe(0.75);
  });
});
