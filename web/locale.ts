// The page's first module (index.html), before any module that formats numbers.
// uPlot 1.6.32 builds `new Intl.NumberFormat(navigator.language)` while its module loads; where
// the browser's language is not a valid tag ("C" or "en-US@posix" in a Linux C locale, as
// WebKitGTK reports it) that throws a RangeError and the page's module never runs (fixed
// upstream in uPlot PR #1054, not released). Only then, formatters given that tag fall back to
// the browser's default locale; everything else is untouched.

/** Whether `tag` is a locale `Intl` accepts. */
export function validLocale(tag: string | undefined): boolean {
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}

/** Make `Intl.NumberFormat(bad)` and `Intl.DateTimeFormat(bad)` use the default locale. */
export function tolerateLocale(bad: string): void {
  for (const name of ['NumberFormat', 'DateTimeFormat'] as const) {
    const Original = Intl[name] as unknown as new (locales?: unknown, options?: unknown) => object;
    const Tolerant = function (this: unknown, locales?: unknown, options?: unknown) {
      return new Original(locales === bad ? undefined : locales, options);
    } as unknown as typeof Original;
    Object.setPrototypeOf(Tolerant, Original);
    Tolerant.prototype = Original.prototype;
    (Intl as unknown as Record<string, unknown>)[name] = Tolerant;
  }
}

const language = typeof navigator === 'undefined' ? undefined : navigator.language;
if (language !== undefined && !validLocale(language)) tolerateLocale(language);
