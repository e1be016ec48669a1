/**
 * The page of test/mock/browser/harness.ts, bundled by esbuild: a small frontend built from the package's own client
 * (and, for `mode=msw`, its MSW handlers in the page's service worker). It sends a valid batch and lists the users,
 * an invalid one and lists the pointers, and a conflict (asked for with `Prefer` when `conflict=prefer`, otherwise
 * the same batch again) and lists its pointers; then marks the body done.
 */
import { setupWorker } from 'msw/browser';
import { createUsersClient, type CreateUser, type CreateUsersBatchRequest } from '../../../client/index.js';
import { createMockApi } from '../../../msw/index.js';

const PATH = '/api/v1/public/users/batch';
const params = new URLSearchParams(location.search);
const target = params.get('target')!;
const tenant = params.get('tenant')!;

function show(id: string, title: string, lines: string[]): void {
  const section = document.getElementById(id)!;
  section.querySelector('h2')!.textContent = title;
  const list = section.querySelector('ul')!;
  list.replaceChildren(...lines.map((line) => Object.assign(document.createElement('li'), { textContent: line })));
}

async function main(): Promise<void> {
  document.getElementById('target')!.textContent = `${params.get('name')}: ${target}`;
  if (params.get('mode') === 'msw') {
    const worker = setupWorker(...createMockApi({ baseUrl: target, stateful: true }).handlers);
    await worker.start({ serviceWorker: { url: '/mockServiceWorker.js' }, quiet: true, onUnhandledRequest: 'bypass' });
  }
  const client = createUsersClient({ baseUrl: target, tenantId: tenant });
  const run = Math.random().toString(36).slice(2, 10);
  const users: CreateUser[] = [
    { external_user_id: `browser-${run}-1`, email: `ada.${run}@example.com`, first_name: 'Ada', last_name: 'Lovelace', phone: '+442071234567' },
    { external_user_id: `browser-${run}-2`, email: `alan.${run}@example.com`, first_name: 'Alan', last_name: 'Turing' },
  ];
  const statuses: number[] = [];

  const created = await client.POST(PATH, { body: { users } });
  statuses.push(created.response.status);
  show('created', `${created.response.status}: the users`, (created.data ?? []).map((u) => `${u.full_name} <${u.email}> ${u.id}`));

  const invalid = { users: [{ ...users[0]!, email: 'not-an-email', role: 'admin' }] } as unknown as CreateUsersBatchRequest;
  const refused = await client.POST(PATH, { body: invalid });
  statuses.push(refused.response.status);
  show('invalid', `${refused.response.status}: the pointers`, (refused.error?.errors ?? []).map((e) => `${e.pointer}: ${e.detail}`));

  const prefer = params.get('conflict') === 'prefer' ? { prefer: 'code=409, example=ExternalUserIdTaken' } : {};
  const conflict = await client.POST(PATH, { body: { users }, headers: prefer });
  statuses.push(conflict.response.status);
  show('conflict', `${conflict.response.status}: the conflict`, (conflict.error?.errors ?? []).map((e) => `${e.pointer}: ${e.detail}`));

  document.body.dataset.statuses = statuses.join(',');
  document.body.dataset.requestId = conflict.response.headers.get('x-request-id') ?? '';
  document.body.dataset.done = 'true';
}

main().catch((error: unknown) => {
  document.body.dataset.error = String(error);
  document.body.dataset.done = 'true';
});
