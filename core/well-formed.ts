/**
 * JSON may escape half of a surrogate pair (`"\ud800"`), which parses into a string that is not valid Unicode. SQLite
 * and PostgreSQL store such a string as something else (U+FFFD, or an error), so what the API answered would not be
 * what a later read gives, and two different ids could read back as one. Every host refuses such a body with 400 and
 * a pointer to each bad string or key. No Node API.
 */
import { MAX_ILL_FORMED_REPORTED } from './limits.js';
import { escapeToken } from './pointers.js';
import type { ProblemError } from './problems.js';

/** A lone surrogate: what String.prototype.isWellFormed finds, for browsers and libs older than ES2024. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const isWellFormed = (s: string) => s.search(LONE_SURROGATE) === -1;
const toWellFormed = (s: string) => s.replace(LONE_SURROGATE, '\ufffd');

/**
 * Pointers to every string value or key in `value` that is not well-formed Unicode. Iterative, not recursive: a
 * body may nest thousands of levels deep, and JSON.parse takes it.
 * @example illFormedStrings({ a: '\ud800' }) // [{ pointer: '/a', detail: 'must not contain a lone surrogate (\\ud800-\\udfff)' }]
 */
export function illFormedStrings(value: unknown): ProblemError[] {
  const found: ProblemError[] = [];
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0 && found.length < MAX_ILL_FORMED_REPORTED) {
    const [item, pointer] = stack.pop()!;
    if (typeof item === 'string') {
      if (!isWellFormed(item)) found.push({ pointer, detail: 'must not contain a lone surrogate (\\ud800-\\udfff)' });
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i -= 1) stack.push([item[i], `${pointer}/${i}`]);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item).reverse()) {
        const childPointer = `${pointer}/${escapeToken(toWellFormed(key))}`;
        if (!isWellFormed(key)) found.push({ pointer: childPointer, detail: 'property name must not contain a lone surrogate' });
        stack.push([child, childPointer]);
      }
    }
  }
  return found;
}
