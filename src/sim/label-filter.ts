/**
 * Marathon's `label=` selector for `/v2/apps`: comma-separated `KEY==VALUE`, `KEY!=VALUE` or `KEY`
 * (the label exists), all of which must hold. The `in (...)` forms are not simulated.
 */
export type LabelFilter = (labels: Readonly<Record<string, string>>) => boolean;

export function parseLabelFilter(selector: string): LabelFilter {
  const tests = selector.split(',').map((part): LabelFilter => {
    const equals = part.indexOf('==');
    if (equals >= 0) {
      const key = part.slice(0, equals).trim();
      const value = part.slice(equals + 2).trim();
      return (labels) => labels[key] === value;
    }
    const differs = part.indexOf('!=');
    if (differs >= 0) {
      const key = part.slice(0, differs).trim();
      const value = part.slice(differs + 2).trim();
      return (labels) => labels[key] !== value;
    }
    const key = part.trim();
    return (labels) => Object.hasOwn(labels, key);
  });
  return (labels) => tests.every((test) => test(labels));
}
