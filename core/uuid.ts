/** Random bytes one id takes: rand_a (12 bits) and rand_b (62 bits) need 74 bits, spread over 10 bytes. */
const RANDOM_BYTES_PER_ID = 10;
/**
 * Ids served per refill of the pool. One getRandomValues call costs about as much as the formatting of a thousand
 * ids, so it is made once per batch of ids, not once per id (Node's own crypto.randomUUID pools its entropy too).
 */
const IDS_PER_REFILL = 512;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

const pool = new Uint8Array(RANDOM_BYTES_PER_ID * IDS_PER_REFILL);
let offset = pool.length;
/** The id's first 15 characters, up to the version digit, for the millisecond they were last made for. */
let prefixMs = -1;
let prefix = '';

/**
 * A UUID v7 (RFC 9562): 48 bits of Unix milliseconds, the version (7), 12 random bits, the variant (0b10) and 62
 * random bits, from Web Crypto's CSPRNG (no Node API: the mocks make ids in browsers too). Time-ordered, so a batch's ids land at the end of the primary-key index instead of all
 * over it.
 * @example uuidv7() // '0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5e'
 */
export function uuidv7(now = Date.now()): string {
  if (offset === pool.length) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  const o = offset;
  offset += RANDOM_BYTES_PER_ID;
  if (now !== prefixMs) {
    const ms = now.toString(16).padStart(12, '0');
    prefix = `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7`;
    prefixMs = now;
  }
  const b = pool;
  return (
    prefix +
    HEX[b[o]! & 0x0f]!.slice(1) +
    HEX[b[o + 1]!] +
    '-' +
    HEX[(b[o + 2]! & 0x3f) | 0x80] +
    HEX[b[o + 3]!] +
    '-' +
    HEX[b[o + 4]!] +
    HEX[b[o + 5]!] +
    HEX[b[o + 6]!] +
    HEX[b[o + 7]!] +
    HEX[b[o + 8]!] +
    HEX[b[o + 9]!]
  );
}
