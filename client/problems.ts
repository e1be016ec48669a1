/**
 * The documented kinds of problem, from the one catalogue in the contract (generated/problem-kinds.ts), and the
 * helpers a client branches on them with. Nothing here lists a kind again.
 */
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE, type ProblemKind, type ProblemType } from '../generated/problem-kinds.js';
import type { components } from '../generated/schema.js';

export { PROBLEM_KINDS, PROBLEM_TYPE_BASE, type ProblemKind, type ProblemType };

/**
 * A problem `type`: one of the documented URIs (so editors complete them and `switch` narrows on them), or any other
 * string, because the API may add kinds and adding one must not break a client that compiled before.
 */
export type ProblemTypeUri = ProblemType | (string & {});

/** Every error body: RFC 9457 problem details with the offending pointers; `type` is typed as {@link ProblemTypeUri}. */
export type Problem = Omit<components['schemas']['Problem'], 'type'> & { type: ProblemTypeUri };

/** A problem of one documented kind: its `type` is that kind's URI. */
export type ProblemOfKind<K extends ProblemKind> = Problem & { type: `${typeof PROBLEM_TYPE_BASE}${K}` };

/** Whether a value has the shape of a problem (`type`, `title` and `status`); anything else an error can be is not. */
export function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const { type, title, status } = value as Record<string, unknown>;
  return typeof type === 'string' && typeof title === 'string' && typeof status === 'number';
}

/**
 * The documented kind of a problem, or `undefined` for a kind this version of the package does not know (treat it
 * like its status's generic meaning).
 * @example
 * switch (problemKind(error)) { case 'rate-limited': ...; case 'invalid-request': ...; default: ... }
 */
export function problemKind(problem: unknown): ProblemKind | undefined {
  if (!isProblem(problem) || !problem.type.startsWith(PROBLEM_TYPE_BASE)) return undefined;
  const kind = problem.type.slice(PROBLEM_TYPE_BASE.length);
  return Object.hasOwn(PROBLEM_KINDS, kind) ? (kind as ProblemKind) : undefined;
}

/**
 * Whether a value is a problem of the given documented kind; narrows its `type` to that kind's URI.
 * @example if (isProblemOfKind(error, 'external-user-id-conflict')) showTaken(error.errors);
 */
export function isProblemOfKind<K extends ProblemKind>(value: unknown, kind: K): value is ProblemOfKind<K> {
  return problemKind(value) === kind;
}
