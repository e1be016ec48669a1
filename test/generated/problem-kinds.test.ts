import { describe, expect, it } from 'vitest';
import spec from '../../generated/openapi.json' with { type: 'json' };
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE } from '../../generated/problem-kinds.js';
import { ApiError, toProblem } from '../../server/errors.js';

interface ProblemExample {
  where: string;
  status: number;
  value: { type?: string; title?: string; status?: number };
}

type Ref = { $ref?: string };
type Responses = Record<string, Ref & { content?: Record<string, { examples?: Record<string, Ref & { value?: unknown }> }> }>;

/** Follows a local `$ref` (`#/components/...`) of the bundle, if there is one. */
function deref<T extends Ref>(node: T): T {
  if (!node.$ref) return node;
  return node.$ref
    .slice(2)
    .split('/')
    .reduce<unknown>((value, token) => (value as Record<string, unknown>)[token], spec) as T;
}

/** Every named example of an application/problem+json response of every operation, with the status it answers. */
function problemExamples(): ProblemExample[] {
  const found: ProblemExample[] = [];
  for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, { responses?: Responses }>>)) {
    for (const [method, operation] of Object.entries(item)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const examples = deref(response).content?.['application/problem+json']?.examples ?? {};
        for (const [name, example] of Object.entries(examples)) {
          found.push({ where: `${method.toUpperCase()} ${path} ${status} ${name}`, status: Number(status), value: deref(example).value as ProblemExample['value'] });
        }
      }
    }
  }
  return found;
}

describe('the catalogue of problem kinds (components.schemas.Problem x-problem-kinds)', () => {
  const examples = problemExamples();

  it('is found in the spec, and every documented problem response has examples to check', () => {
    expect(Object.keys(PROBLEM_KINDS).length).toBeGreaterThan(0);
    expect(examples.length).toBeGreaterThan(0);
  });

  it('matches every problem example of the spec: a known kind, its title, its status and the status it answers', () => {
    const mismatches: string[] = [];
    for (const { where, status, value } of examples) {
      const kind = value.type?.startsWith(PROBLEM_TYPE_BASE) ? value.type.slice(PROBLEM_TYPE_BASE.length) : undefined;
      const entry = kind ? PROBLEM_KINDS[kind as keyof typeof PROBLEM_KINDS] : undefined;
      if (!entry) mismatches.push(`${where}: type ${value.type} is not ${PROBLEM_TYPE_BASE} + a catalogued kind`);
      else if (entry.title !== value.title || entry.status !== value.status || entry.status !== status) {
        mismatches.push(`${where}: ${kind} is ${entry.status} "${entry.title}", the example says ${value.status} "${value.title}"`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('is what the stub sends: each kind becomes a problem with its type, title and status', () => {
    for (const [kind, { status, title }] of Object.entries(PROBLEM_KINDS)) {
      const problem = toProblem(new ApiError(kind as keyof typeof PROBLEM_KINDS, 'detail'), 'r1');
      expect(problem).toMatchObject({ type: PROBLEM_TYPE_BASE + kind, title, status });
    }
  });

  it('names only catalogued kinds in the Problem schema examples', () => {
    const schema = (spec.components.schemas as Record<string, { properties?: { type?: { examples?: string[] } } }>).Problem;
    const typeExamples = schema?.properties?.type?.examples ?? [];
    expect(typeExamples.length).toBeGreaterThan(0);
    for (const type of typeExamples) expect(Object.keys(PROBLEM_KINDS)).toContain(type.slice(PROBLEM_TYPE_BASE.length));
  });
});
