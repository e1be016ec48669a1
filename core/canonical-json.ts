/**
 * JSON with every object's keys sorted, so bodies that differ only in whitespace or key order serialize alike: a
 * request's identity under an Idempotency-Key, for the stub (server/idempotency.ts) and the stateful mocks alike.
 * No Node API: the MSW handlers run it in a browser.
 * @example canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }) // '{"a":[{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
