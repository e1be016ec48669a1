/**
 * Request bodies for the benchmark: realistic users (mixed names, some non-ASCII, phone on most but not all), unique
 * per request so that no insert ever conflicts, and cheap to produce. A batch is laid out once as a list of string
 * fragments around one placeholder; each request only joins them with its own token, a memcpy-sized cost that is the
 * same for every target.
 */
export const BATCH_PATH = '/api/v1/public/users/batch';

const FIRST_NAMES = [
  'Olena', 'Vova', 'Iryna', 'Taras', 'Maria', 'Andrii', 'Sofiia', 'Dmytro', 'Anna', 'Oleksandr', 'Kateryna',
  'Mykola', 'Józef', 'Łucja', 'Zoë', 'Jean-Luc', 'Оксана', 'Bohdan', 'Yuliia', 'Serhii',
];
const LAST_NAMES = [
  'Kovalenko', 'Smith', 'Shevchenko', 'Bondarenko', 'Tkachenko', "O'Connor", 'Kravchenko', 'Oliynyk',
  'Nowak-Wiśniewska', 'Müller', 'Lysenko', 'Marchenko', 'Rudenko', 'Савченко', 'Petrenko', 'García López',
];

/** The placeholder between fragments: a private-use character, which JSON.stringify keeps as it is and no name holds. */
const PLACEHOLDER = '\uE000';

/** Lower-case ASCII for the e-mail's local part, so that names like "Józef" still give a plain address. */
function asciiSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();
  return slug === '' ? 'user' : slug;
}

/** One user of a batch; `PLACEHOLDER` stands for the request's token wherever uniqueness is needed. */
function user(index: number): Record<string, string> {
  const first = FIRST_NAMES[(index * 7) % FIRST_NAMES.length]!;
  const last = LAST_NAMES[(index * 11 + 3) % LAST_NAMES.length]!;
  const n = String(index).padStart(4, '0');
  const entry: Record<string, string> = {
    external_user_id: `HR-${PLACEHOLDER}-${n}`,
    email: `${asciiSlug(first)}.${asciiSlug(last)}.${PLACEHOLDER}.${n}@example.com`,
    first_name: first,
    last_name: last,
  };
  // About seven in ten users share a phone number, as in an HR export.
  if (index % 10 < 7) entry.phone = `+38050${String(1_000_000 + ((index * 7919) % 9_000_000)).padStart(7, '0')}`;
  return entry;
}

/**
 * The fragments of a batch body of `size` users: `fragments.join(token)` is the JSON body, unique for the token.
 * @example batchFragments(2).join('ab12') // '{"users":[{"external_user_id":"HR-ab12-0000",...},{...}]}'
 */
export function batchFragments(size: number): string[] {
  const users = Array.from({ length: size }, (_, i) => user(i));
  return JSON.stringify({ users }).split(PLACEHOLDER);
}

/**
 * Hands out tokens that are unique within the run and across runs: a random prefix, then a fixed-width counter, so
 * every request body of one batch size has the same length.
 */
export function tokenSource(): () => string {
  const prefix = Math.random().toString(36).slice(2, 7).padEnd(5, '0');
  let counter = 0;
  return () => prefix + (counter++).toString(36).padStart(7, '0');
}
