/**
 * The `Prefer` header of the Prism mock, typed from the contract. It is not part of the API (the production server
 * ignores it): it only asks the mock for one of the documented answers.
 */
import type { operations } from '../generated/schema.js';

/** A status the operation documents, e.g. `409` for `createUsersBatch`. */
export type DocumentedStatus<Op extends keyof operations> = Extract<keyof operations[Op]['responses'], number>;

/** What to ask the mock for: a documented status, a named example of that status, or generated data. */
export interface MockPreference<Op extends keyof operations = 'createUsersBatch'> {
  /** The status to answer; `example` alone looks among the `200` examples, so name the status with it. */
  code?: DocumentedStatus<Op>;
  /** A named example of the spec, e.g. `DuplicateInBatch` (with `code: 409`). */
  example?: string;
  /** Generated data, valid against the schema, instead of an example. */
  dynamic?: boolean;
}

/**
 * The `Prefer` header for the mock, to pass as a call's (or the client's) `headers`.
 * @example
 * await users.createUsersBatch(body, { headers: mockPrefer({ code: 409, example: 'DuplicateInBatch' }) });
 */
export function mockPrefer<Op extends keyof operations = 'createUsersBatch'>(preference: MockPreference<Op>): { Prefer: string } {
  const parts: string[] = [];
  if (preference.code !== undefined) parts.push(`code=${preference.code}`);
  if (preference.example !== undefined) parts.push(`example=${preference.example}`);
  if (preference.dynamic !== undefined) parts.push(`dynamic=${preference.dynamic}`);
  return { Prefer: parts.join(', ') };
}
