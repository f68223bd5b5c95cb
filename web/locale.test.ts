import { describe, expect, it } from 'vitest';
import { tolerateLocale, validLocale } from './locale.js';

describe('an invalid browser language', () => {
  it('is told from a valid one', () => {
    expect(validLocale('en-US')).toBe(true);
    expect(validLocale(undefined)).toBe(true);
    expect(validLocale('C')).toBe(false);
    expect(validLocale('en-US@posix')).toBe(false);
  });

  it('falls back to the default locale in the formatters, which keep working', () => {
    const before = Intl.NumberFormat;
    const beforeDate = Intl.DateTimeFormat;
    try {
      expect(() => new Intl.NumberFormat('C')).toThrow(RangeError);
      tolerateLocale('C');
      // What uPlot does while its module loads, and what it then calls.
      expect(new Intl.NumberFormat('C').format(1234.5)).toBe(new before().format(1234.5));
      expect(typeof new Intl.DateTimeFormat('C').resolvedOptions().timeZone).toBe('string');
      expect(new Intl.NumberFormat('C')).toBeInstanceOf(before);
      // Other tags, and other bad ones, behave as before.
      expect(new Intl.NumberFormat('de-DE').format(1234.5)).toBe('1.234,5');
      expect(() => new Intl.NumberFormat('en-US@posix')).toThrow(RangeError);
    } finally {
      Intl.NumberFormat = before;
      Intl.DateTimeFormat = beforeDate;
    }
  });
});
