/**
 * The Idempotency-Key header, with Stripe's semantics and those of the IETF draft
 * draft-ietf-httpapi-idempotency-key-header: a key is remembered per tenant for 24 hours with the response of the
 * request that first ran under it, and a request's identity is a digest of its operation and canonical body.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export { canonicalJson };

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
/** How long a key is remembered; the contract promises 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * The fingerprint stored with a key: the same key sent to another operation, or with another body, is a misuse.
 * @example requestFingerprint('createUsersBatch', req.body) // 64 hex digits
 */
export function requestFingerprint(operationId: string, body: unknown): string {
  return createHash('sha256').update(operationId).update('\n').update(canonicalJson(body)).digest('hex');
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
