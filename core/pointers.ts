/**
 * JSON Pointers (RFC 6901) as the contract's problems carry them: shared by the stub's error handler
 * (server/errors.ts) and the mocks' checker (msw/contract-mock.ts), so both point at the same place. No Node API:
 * the MSW handlers run it in a browser.
 */

/** The contract's longest `ProblemError.pointer`. */
export const MAX_POINTER = 300;

/** Escapes one JSON Pointer reference token (RFC 6901). */
export function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Unescapes one JSON Pointer reference token (RFC 6901). */
export function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The value at a JSON Pointer in `body`, or undefined. */
export function at(body: unknown, pointer: string): unknown {
  if (pointer === '') return body;
  let value = body;
  for (const token of pointer.slice(1).split('/')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[unescapeToken(token)];
  }
  return value;
}

/**
 * The validator reports an unknown property as the object's (escaped) pointer, a slash and the property's raw
 * name, which may itself hold `/` or `~`. Find the split where the name really is a key of that object, and escape
 * it; a pointer longer than the contract allows points at the object instead, and `detail` names the property.
 * @example unknownProperty('/users/0/a/b', { users: [{ 'a/b': 1 }] }) // { pointer: '/users/0/a~1b' }
 */
export function unknownProperty(pointer: string, body: unknown): { pointer: string; name?: string } {
  for (let i = pointer.indexOf('/'); i !== -1; i = pointer.indexOf('/', i + 1)) {
    const object = at(body, pointer.slice(0, i));
    const name = pointer.slice(i + 1);
    if (object && typeof object === 'object' && !Array.isArray(object) && Object.hasOwn(object, name)) {
      const escaped = `${pointer.slice(0, i)}/${escapeToken(name)}`;
      return escaped.length <= MAX_POINTER ? { pointer: escaped } : { pointer: pointer.slice(0, i), name };
    }
  }
  return { pointer: pointer.length <= MAX_POINTER ? pointer : '' };
}
