import { BenchConfigError, readChoiceList, readInteger, readIntegerList } from './bench-env';

describe('bench env parsing', () => {
  it('falls back when a variable is unset or blank', () => {
    expect(readInteger({}, 'X', 5, 1, 10)).toBe(5);
    expect(readInteger({ X: ' ' }, 'X', 5, 1, 10)).toBe(5);
    expect(readIntegerList({}, 'L', [1, 4], 1, 64)).toEqual([1, 4]);
    expect(readChoiceList({}, 'C', ['a', 'b'])).toEqual(['a', 'b']);
  });

  it('reads bounded whole numbers and lists', () => {
    expect(readInteger({ X: '7' }, 'X', 5, 1, 10)).toBe(7);
    expect(readIntegerList({ L: '1, 4,16' }, 'L', [], 1, 64)).toEqual([1, 4, 16]);
    expect(readChoiceList({ C: 'b,a' }, 'C', ['a', 'b', 'c'])).toEqual(['a', 'b']);
  });

  it('refuses fractions, signs, out-of-range values, duplicates and unknown choices', () => {
    expect(() => readInteger({ X: '2.5' }, 'X', 5, 1, 10)).toThrow(BenchConfigError);
    expect(() => readInteger({ X: '-1' }, 'X', 5, 1, 10)).toThrow(BenchConfigError);
    expect(() => readInteger({ X: '11' }, 'X', 5, 1, 10)).toThrow(/outside 1 to 10/);
    expect(() => readIntegerList({ L: '4,4' }, 'L', [], 1, 64)).toThrow(/distinct/);
    expect(() => readIntegerList({ L: '1,,4' }, 'L', [], 1, 64)).toThrow(BenchConfigError);
    expect(() => readChoiceList({ C: 'z' }, 'C', ['a'])).toThrow(/not one of a/);
  });
});
