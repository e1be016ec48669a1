/**
 * The client tells when an operation is going away: onDeprecation gets every answer that carries Deprecation
 * (RFC 9745), with Sunset (RFC 8594) and the Link rel="deprecation"; without it, one console.warn per operation per
 * process.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createUsersClient, USERS_BATCH_PATH, type CreateUser, type DeprecationNotice } from '../../client/index.js';
import { deprecationHeaders } from '../../core/deprecation.js';

const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
const USER: CreateUser = { external_user_id: 'HR-1', email: 'ann.lee@example.com', first_name: 'Ann', last_name: 'Lee' };
/** What the hosts send for a deprecated operation (core/deprecation.ts), from a table like the generated one. */
const HEADERS = deprecationHeaders('createUsersBatch', {
  createUsersBatch: { method: 'POST', path: USERS_BATCH_PATH, deprecatedAt: '2026-12-01', sunset: '2027-06-01', docs: 'https://api.hesh.app/docs#tag/Users/operation/createUsersBatch' },
});

/** A fetch that answers 200 with `headers`. */
const answering = (headers: Record<string, string>) => async () =>
  new Response('[]', { status: 200, headers: { 'content-type': 'application/json', ...headers } });

describe('createUsersClient: onDeprecation', () => {
  afterEach(() => vi.restoreAllMocks());

  it('gets every answer of a deprecated operation, with the operation, the dates and the docs link, raw methods and createUsersBatch alike', async () => {
    const notices: DeprecationNotice[] = [];
    const users = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch: answering(HEADERS), onDeprecation: (n) => notices.push(n) });

    await users.POST(USERS_BATCH_PATH, { body: { users: [USER] } });
    await users.createUsersBatch({ users: [USER] });

    expect(notices).toHaveLength(2);
    expect(notices[0]).toMatchObject({
      operation: `POST ${USERS_BATCH_PATH}`,
      deprecatedAt: new Date('2026-12-01T00:00:00Z'),
      sunset: new Date('2027-06-01T00:00:00Z'),
      link: 'https://api.hesh.app/docs#tag/Users/operation/createUsersBatch',
    });
    expect(notices[0]!.response.status).toBe(200);
  });

  it('is not called for an answer without Deprecation', async () => {
    const onDeprecation = vi.fn();
    const users = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch: answering({}), onDeprecation });

    await users.POST(USERS_BATCH_PATH, { body: { users: [USER] } });

    expect(onDeprecation).not.toHaveBeenCalled();
  });

  it('reads an older server\'s "Deprecation: true" as deprecated with no date, and a relative Link against the request URL', async () => {
    const notices: DeprecationNotice[] = [];
    const fetch = answering({ deprecation: 'true', link: '</docs>; rel="deprecation", </next>; rel="next"' });
    const users = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch, onDeprecation: (n) => notices.push(n) });

    await users.POST(USERS_BATCH_PATH, { body: { users: [USER] } });

    expect(notices[0]).toMatchObject({ deprecatedAt: undefined, sunset: undefined, link: 'http://127.0.0.1:9/docs' });
  });

  it('by default warns once per operation per process, however many clients and answers see it', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const one = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch: answering(HEADERS) });
    const other = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch: answering(HEADERS) });

    await one.POST(USERS_BATCH_PATH, { body: { users: [USER] } });
    await one.createUsersBatch({ users: [USER] });
    await other.POST(USERS_BATCH_PATH, { body: { users: [USER] } });

    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toBe(
      `hesh-users-contract: POST ${USERS_BATCH_PATH} is deprecated since 2026-12-01; it may stop working from 2027-06-01 on (Sunset). ` +
        'See https://api.hesh.app/docs#tag/Users/operation/createUsersBatch',
    );
  });
});
