/**
 * JSON may escape half of a surrogate pair (`"\ud800"`), which parses into a string that is not valid Unicode. SQLite
 * and PostgreSQL store such a string as something else (U+FFFD, or an error), so what the API answered would not be
 * what a later read gives, and two different ids could read back as one. Such a body is refused with 400 and a
 * pointer to each bad string or key.
 */
import type { RequestHandler } from 'express';
import { ApiError, type ProblemError } from './errors.js';

const MAX_REPORTED = 100;

function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Pointers to every string value or key in `value` that is not well-formed Unicode. Iterative, not recursive: a
 * body may nest thousands of levels deep, and JSON.parse takes it.
 */
export function illFormedStrings(value: unknown): ProblemError[] {
  const found: ProblemError[] = [];
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0 && found.length < MAX_REPORTED) {
    const [item, pointer] = stack.pop()!;
    if (typeof item === 'string') {
      if (!item.isWellFormed()) found.push({ pointer, detail: 'must not contain a lone surrogate (\\ud800-\\udfff)' });
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i -= 1) stack.push([item[i], `${pointer}/${i}`]);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item).reverse()) {
        const childPointer = `${pointer}/${escapeToken(key.toWellFormed())}`;
        if (!key.isWellFormed()) found.push({ pointer: childPointer, detail: 'property name must not contain a lone surrogate' });
        stack.push([child, childPointer]);
      }
    }
  }
  return found;
}

/** Refuses a parsed JSON body that holds a string or key that is not well-formed Unicode. */
export function rejectIllFormedStrings(): RequestHandler {
  return (req, _res, next) => {
    const found = illFormedStrings(req.body);
    if (found.length === 0) return next();
    next(
      new ApiError(
        'invalid-request',
        `${found.length} string${found.length === 1 ? ' is' : 's are'} not valid Unicode; no user was created.`,
        found,
      ),
    );
  };
}
