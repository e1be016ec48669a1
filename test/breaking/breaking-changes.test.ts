import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findBreakingChanges } from '../../scripts/breaking-changes.js';
import { baselineFile } from '../../scripts/release-baseline.js';
import { HTTP_METHODS } from '../../core/spec.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** The bundle and the baseline as plain JSON: each fixture is a deep copy of the bundle with one change. */
type Spec = any;
const read = (file: string): Spec => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
const BUNDLE: Spec = read('generated/openapi.json');
const OPERATION = 'POST /api/v1/public/users/batch';

const METHODS: readonly string[] = HTTP_METHODS;

/** Every operation of a spec, named as findBreakingChanges names it (`POST /path`). */
function operationsOf(spec: Spec): { label: string; path: string; method: string }[] {
  return Object.entries(spec.paths as Record<string, Spec>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ label: `${method.toUpperCase()} ${path}`, path, method })),
  );
}
const OPERATIONS = operationsOf(BUNDLE);

/** Follows a local reference of the bundle, for a fixture that changes one operation's copy of a shared object. */
function resolved(spec: Spec, node: Spec): Spec {
  while (node?.$ref) node = node.$ref.slice(2).split('/').reduce((at: Spec, key: string) => at[key], spec);
  return node;
}

/**
 * The messages found between `base` and a copy of it changed by `change`, leaving out those about the other
 * operations of the spec: a shared schema change reaches each operation that uses it, and each operation's own
 * messages are checked by the loop over every operation below.
 */
function breakingAfter(change: (spec: Spec) => void, base: Spec = BUNDLE): string[] {
  const current = structuredClone(base);
  change(current);
  const others = operationsOf(base).filter(({ label }) => label !== OPERATION).map(({ label }) => `${label}: `);
  return findBreakingChanges(base, current)
    .map((found) => found.message)
    .filter((message) => !others.some((prefix) => message.startsWith(prefix)));
}

const post = (spec: Spec): Spec => spec.paths['/api/v1/public/users/batch'].post;
const schemas = (spec: Spec): Spec => spec.components.schemas;

/** The bundle with request properties of the kinds it does not have yet (a number, an enum, a nullable string). */
function withMoreRequestProperties(): Spec {
  const spec = structuredClone(BUNDLE);
  Object.assign(schemas(spec).CreateUser.properties, {
    age: { type: 'integer', minimum: 0, maximum: 150 },
    role: { type: 'string', enum: ['admin', 'member'] },
    nickname: { type: ['string', 'null'], maxLength: 50 },
  });
  return spec;
}

describe('findBreakingChanges', () => {
  describe('paths and operations', () => {
    it('reports a removed path with its operations', () => {
      expect(breakingAfter((spec) => delete spec.paths['/api/v1/public/users/batch'])).toEqual([
        '/api/v1/public/users/batch: path removed, with its operations POST',
      ]);
    });

    it('reports a removed operation when the path stays', () => {
      const changes = breakingAfter((spec) => {
        const item = spec.paths['/api/v1/public/users/batch'];
        item.put = item.post;
        delete item.post;
      });
      expect(changes).toEqual([`${OPERATION}: operation removed`]);
    });

    it('matches a path whose template parameter was only renamed', () => {
      const base = structuredClone(BUNDLE);
      base.paths['/api/v1/public/users/{id}'] = { get: { responses: { 200: { description: 'The user.' } } } };
      const changes = breakingAfter((spec) => {
        spec.paths['/api/v1/public/users/{userId}'] = spec.paths['/api/v1/public/users/{id}'];
        delete spec.paths['/api/v1/public/users/{id}'];
      }, base);
      expect(changes).toEqual([]);
    });
  });

  describe('request body', () => {
    it('reports a request property that became required', () => {
      expect(breakingAfter((spec) => schemas(spec).CreateUser.required.push('phone'))).toEqual([
        `${OPERATION}: request property users[].phone is now required`,
      ]);
    });

    it('reports a shorter maxLength', () => {
      expect(breakingAfter((spec) => (schemas(spec).CreateUser.properties.first_name.maxLength = 50))).toEqual([
        `${OPERATION}: request property users[].first_name maxLength lowered from 100 to 50`,
      ]);
    });

    it('reports a larger minLength', () => {
      expect(breakingAfter((spec) => (schemas(spec).CreateUser.properties.last_name.minLength = 2))).toEqual([
        `${OPERATION}: request property users[].last_name minLength raised from 1 to 2`,
      ]);
    });

    it('reports a smaller maxItems', () => {
      expect(breakingAfter((spec) => (schemas(spec).CreateUsersBatchRequest.properties.users.maxItems = 500))).toEqual([
        `${OPERATION}: request property users maxItems lowered from 1000 to 500`,
      ]);
    });

    it('reports a larger minItems', () => {
      expect(breakingAfter((spec) => (schemas(spec).CreateUsersBatchRequest.properties.users.minItems = 2))).toEqual([
        `${OPERATION}: request property users minItems raised from 1 to 2`,
      ]);
    });

    it('reports a smaller maximum', () => {
      const changes = breakingAfter((spec) => (schemas(spec).CreateUser.properties.age.maximum = 120), withMoreRequestProperties());
      expect(changes).toEqual([`${OPERATION}: request property users[].age maximum lowered from 150 to 120`]);
    });

    it('reports a larger minimum', () => {
      const changes = breakingAfter((spec) => (schemas(spec).CreateUser.properties.age.minimum = 16), withMoreRequestProperties());
      expect(changes).toEqual([`${OPERATION}: request property users[].age minimum raised from 0 to 16`]);
    });

    it('reports a pattern added to a property that had none', () => {
      expect(breakingAfter((spec) => (schemas(spec).CreateUser.properties.first_name.pattern = '^\\S+$'))).toEqual([
        `${OPERATION}: request property users[].first_name has a new pattern "^\\\\S+$"`,
      ]);
    });

    it('reports a changed pattern', () => {
      expect(breakingAfter((spec) => (schemas(spec).CreateUser.properties.phone.pattern = '^\\+[0-9]{7,15}$'))).toEqual([
        `${OPERATION}: request property users[].phone pattern changed from "^\\\\+?[0-9]{3,15}$" to "^\\\\+[0-9]{7,15}$"`,
      ]);
    });

    it('reports an enum value that is no longer accepted', () => {
      const changes = breakingAfter((spec) => (schemas(spec).CreateUser.properties.role.enum = ['member']), withMoreRequestProperties());
      expect(changes).toEqual([`${OPERATION}: request property users[].role no longer accepts "admin"`]);
    });

    it('reports a narrowed type (null no longer accepted)', () => {
      const changes = breakingAfter((spec) => (schemas(spec).CreateUser.properties.nickname.type = 'string'), withMoreRequestProperties());
      expect(changes).toEqual([
        `${OPERATION}: request property users[].nickname no longer accepts null (type was string or null, now string)`,
      ]);
    });

    it('reports additionalProperties that became false', () => {
      const open = structuredClone(BUNDLE);
      delete schemas(open).CreateUser.additionalProperties;
      expect(breakingAfter((spec) => (schemas(spec).CreateUser.additionalProperties = false), open)).toEqual([
        `${OPERATION}: request array items users[] no longer accepts properties it does not list (additionalProperties is now false)`,
      ]);
    });

    it('reports a removed property when additionalProperties is false, since old clients sending it get 400', () => {
      expect(breakingAfter((spec) => delete schemas(spec).CreateUser.properties.phone)).toEqual([
        `${OPERATION}: request property users[].phone was removed; old clients that send it are refused`,
      ]);
    });

    it('reports a new constrained request property where other properties were allowed, since old clients may send any value', () => {
      const open = structuredClone(BUNDLE);
      delete schemas(open).CreateUser.additionalProperties;
      const changes = breakingAfter((spec) => {
        schemas(spec).CreateUser.properties.job_title = { type: 'string' };
      }, open);
      expect(changes).toEqual([`${OPERATION}: request property users[].job_title now only accepts string (any type before)`]);
    });

    it('reports a media type the request body no longer accepts', () => {
      const changes = breakingAfter((spec) => {
        const content = spec.components.requestBodies.CreateUsersBatch.content;
        content['application/merge-patch+json'] = content['application/json'];
        delete content['application/json'];
      });
      expect(changes).toEqual([`${OPERATION}: request body no longer accepts application/json`]);
    });

    it('reports any change to a composition it cannot compare, for review by hand', () => {
      const changes = breakingAfter((spec) => {
        schemas(spec).CreateUser.oneOf = [{ required: ['phone'] }, { required: ['email'] }];
      });
      expect(changes).toEqual([
        `${OPERATION}: request array items users[] changed its oneOf, which this check cannot compare; review it by hand`,
      ]);
    });
  });

  describe('parameters', () => {
    it('reports a new required header parameter', () => {
      const changes = breakingAfter((spec) => {
        post(spec).parameters = [
          ...(post(spec).parameters ?? []),
          { in: 'header', name: 'X-Hesh-Region', required: true, schema: { type: 'string' } },
        ];
      });
      expect(changes).toEqual([`${OPERATION}: header parameter x-hesh-region is new and required`]);
    });

    it('reports an optional query parameter that became required', () => {
      const base = structuredClone(BUNDLE);
      post(base).parameters = [{ in: 'query', name: 'dry_run', schema: { type: 'boolean' } }];
      expect(breakingAfter((spec) => (post(spec).parameters[0].required = true), base)).toEqual([
        `${OPERATION}: query parameter dry_run is now required`,
      ]);
    });
  });

  describe('responses', () => {
    it('reports a removed response property', () => {
      const changes = breakingAfter((spec) => {
        const user = schemas(spec).User;
        delete user.properties.phone;
        user.required = user.required.filter((name: string) => name !== 'phone');
      });
      expect(changes).toEqual([`${OPERATION}: response 200 property [].phone was removed`]);
    });

    it('reports a response property that is no longer required', () => {
      const changes = breakingAfter((spec) => {
        const user = schemas(spec).User;
        user.required = user.required.filter((name: string) => name !== 'created_at');
      });
      expect(changes).toEqual([`${OPERATION}: response 200 property [].created_at is no longer required, so it may be missing`]);
    });

    it('reports a response property that became nullable', () => {
      expect(breakingAfter((spec) => (schemas(spec).User.properties.email.type = ['string', 'null']))).toEqual([
        `${OPERATION}: response 200 property [].email may now be null`,
      ]);
    });

    it('reports a response property whose type changed', () => {
      expect(breakingAfter((spec) => (schemas(spec).User.properties.full_name.type = 'integer'))).toEqual([
        `${OPERATION}: response 200 property [].full_name type changed from string to integer`,
      ]);
    });

    it('reports a value added to a response enum, which old clients may not handle', () => {
      expect(breakingAfter((spec) => schemas(spec).User.properties.status.enum.push('Suspended'))).toEqual([
        `${OPERATION}: response 200 property [].status has a new value "Suspended" that old clients may not handle`,
      ]);
    });

    it('reports a status that is no longer documented', () => {
      expect(breakingAfter((spec) => delete post(spec).responses['409'])).toEqual([
        `${OPERATION}: response 409 is no longer documented`,
      ]);
    });

  });

  describe.each(OPERATIONS)('every operation of the spec: $label', ({ label, path, method }) => {
    const op = (spec: Spec): Spec => spec.paths[path][method];
    const statuses = Object.keys(op(BUNDLE).responses);

    it('reports the operation removed', () => {
      const current = structuredClone(BUNDLE);
      delete current.paths[path][method];
      expect(findBreakingChanges(BUNDLE, current).map((found) => found.message)).toContain(`${label}: operation removed`);
    });

    it.each(statuses)('reports its response %s no longer documented', (status) => {
      const current = structuredClone(BUNDLE);
      delete op(current).responses[status];
      expect(findBreakingChanges(BUNDLE, current).map((found) => found.message)).toEqual([
        `${label}: response ${status} is no longer documented`,
      ]);
    });

    it.each(statuses)('reports each media type its response %s no longer has, and each header removed', (status) => {
      const response = resolved(BUNDLE, op(BUNDLE).responses[status]);
      for (const mediaType of Object.keys(response.content ?? {})) {
        const current = structuredClone(BUNDLE);
        // The operation gets its own copy, so a shared response of other operations stays as it was.
        const own = structuredClone(response);
        own.content['application/x-other'] = own.content[mediaType];
        delete own.content[mediaType];
        op(current).responses[status] = own;
        expect(findBreakingChanges(BUNDLE, current).map((found) => found.message)).toEqual([
          `${label}: response ${status} no longer has ${mediaType}`,
        ]);
      }
      for (const header of Object.keys(response.headers ?? {})) {
        const current = structuredClone(BUNDLE);
        const own = structuredClone(response);
        delete own.headers[header];
        op(current).responses[status] = own;
        expect(findBreakingChanges(BUNDLE, current).map((found) => found.message)).toEqual([
          `${label}: response ${status} header ${header} was removed`,
        ]);
      }
    });
  });

  describe('security', () => {
    const WAS = 'TenantId (API key in header x-tenant-id)';

    it('reports a security scheme added to the requirement', () => {
      const changes = breakingAfter((spec) => {
        spec.components.securitySchemes.Bearer = { type: 'http', scheme: 'bearer' };
        spec.security = [{ TenantId: [], Bearer: [] }];
      });
      expect(changes).toEqual([`${OPERATION}: security changed from ${WAS} to Bearer (HTTP bearer) and ${WAS}`]);
    });

    it('reports a security requirement that was removed', () => {
      expect(breakingAfter((spec) => (spec.security = []))).toEqual([`${OPERATION}: security changed from ${WAS} to none`]);
    });

    it('reports a renamed security scheme', () => {
      const changes = breakingAfter((spec) => {
        spec.components.securitySchemes.Tenant = spec.components.securitySchemes.TenantId;
        delete spec.components.securitySchemes.TenantId;
        spec.security = [{ Tenant: [] }];
      });
      expect(changes).toEqual([`${OPERATION}: security changed from ${WAS} to Tenant (API key in header x-tenant-id)`]);
    });

    it('reports a changed header name of an API key scheme', () => {
      expect(breakingAfter((spec) => (spec.components.securitySchemes.TenantId.name = 'x-tenant'))).toEqual([
        `${OPERATION}: security changed from ${WAS} to TenantId (API key in header x-tenant)`,
      ]);
    });

    it('reports an operation that overrides the global requirement with another one', () => {
      expect(breakingAfter((spec) => (post(spec).security = [{}]))).toEqual([`${OPERATION}: security changed from ${WAS} to anonymous`]);
    });
  });

  describe('compatible changes', () => {
    it('passes a new optional request property where additionalProperties was false', () => {
      const changes = breakingAfter((spec) => {
        schemas(spec).CreateUser.properties.job_title = { type: 'string', maxLength: 100 };
      });
      expect(changes).toEqual([]);
    });

    it('passes a new response property, even under additionalProperties false', () => {
      expect(breakingAfter((spec) => (schemas(spec).User.properties.department = { type: 'string' }))).toEqual([]);
    });

    it('passes a new operation and a new path', () => {
      const changes = breakingAfter((spec) => {
        spec.paths['/api/v1/public/users/batch'].get = { responses: { 200: { description: 'The batches.' } } };
        spec.paths['/api/v1/public/users'] = { get: { responses: { 200: { description: 'The users.' } } } };
      });
      expect(changes).toEqual([]);
    });

    it('passes a new documented status', () => {
      expect(breakingAfter((spec) => (post(spec).responses['418'] = structuredClone(post(spec).responses['400'])))).toEqual([]);
    });

    it('passes loosened request constraints', () => {
      const changes = breakingAfter((spec) => {
        const user = schemas(spec).CreateUser;
        user.properties.first_name.maxLength = 200;
        user.properties.external_user_id.minLength = 0;
        delete user.properties.phone.pattern;
        user.required = user.required.filter((name: string) => name !== 'last_name');
        schemas(spec).CreateUsersBatchRequest.properties.users.maxItems = 5000;
      });
      expect(changes).toEqual([]);
    });

    it('passes changed descriptions, summaries, examples and x- extensions', () => {
      const base = structuredClone(BUNDLE);
      base.paths['x-owner'] = { team: 'users' };
      post(base).responses['x-sla'] = '99.9%';
      const changes = breakingAfter((spec) => {
        delete spec.paths['x-owner'];
        delete post(spec).responses['x-sla'];
        spec.info.description = 'Reworded.';
        post(spec).summary = 'Create many users';
        schemas(spec).CreateUser.properties.phone.description = 'Reworded.';
        schemas(spec).CreateUser.properties.phone.examples = ['+12025550123'];
        spec.components.examples.TwoUsersRequest.value.users.pop();
        schemas(spec).User['x-internal-note'] = 'renders as a card';
      }, base);
      expect(changes).toEqual([]);
    });

    it('passes a response type that became narrower (no longer nullable)', () => {
      expect(breakingAfter((spec) => (schemas(spec).User.properties.avatar_image_url.type = 'string'))).toEqual([]);
    });
  });

  describe('the real contract', () => {
    it('finds nothing between the bundle and itself', () => {
      expect(findBreakingChanges(BUNDLE, structuredClone(BUNDLE))).toEqual([]);
    });

    it('finds no breaking change between the committed baseline of its major version (openapi/released/v1.json) and the bundle', () => {
      const released: unknown = JSON.parse(readFileSync(baselineFile(BUNDLE.info.version), 'utf8'));
      expect(findBreakingChanges(released, BUNDLE).map((found) => found.message)).toEqual([]);
    });

    it('compares a recursive schema without looping', () => {
      const base = structuredClone(BUNDLE);
      schemas(base).ProblemError.properties.causes = { type: 'array', items: { $ref: '#/components/schemas/ProblemError' } };
      const changes = breakingAfter((spec) => delete schemas(spec).ProblemError.properties.detail.type, base);
      expect(changes).toContain(`${OPERATION}: response 400 property errors[].detail type changed from string to any type`);
    });
  });
});
