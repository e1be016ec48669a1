/**
 * The Idempotency-Key header, with Stripe's semantics and those of the IETF draft
 * draft-ietf-httpapi-idempotency-key-header: a key is remembered per tenant for 24 hours with the outcome of the
 * request that first ran under it, and a request's identity is a digest of its operation and canonical body. No Node
 * API (Web Crypto's digest, which Node, browsers and service workers have).
 */
import { canonicalJson } from './canonical-json.js';
import { IDEMPOTENCY_WINDOW_MS } from './limits.js';

export { canonicalJson, IDEMPOTENCY_WINDOW_MS };

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * The fingerprint stored with a key: the same key sent to another operation, or with another body, is a misuse.
 * @example await requestFingerprint('createUsersBatch', body) // 64 hex digits
 */
export async function requestFingerprint(operationId: string, body: unknown): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${operationId}\n${canonicalJson(body)}`));
  let hex = '';
  for (const byte of new Uint8Array(digest)) hex += HEX[byte];
  return hex;
}

/**
 * Keys whose request is running in this process. A second request with a running key is answered 409 at once
 * rather than left to wait on the database; across processes, the storage's UNIQUE (tenant, key) keeps one batch.
 */
export class InFlightKeys {
  readonly #running = new Set<string>();

  /** Marks the key as running and returns its release, or undefined when it is already running. */
  acquire(tenantId: string, key: string): (() => void) | undefined {
    // A tenant id is a UUID and a key has no spaces, so the pair joined by a space is unambiguous.
    const slot = `${tenantId} ${key}`;
    if (this.#running.has(slot)) return undefined;
    this.#running.add(slot);
    return () => this.#running.delete(slot);
  }
}
