/**
 * Request ids: every answer of every host carries one in x-request-id, and a problem's `instance` is
 * `urn:uuid:<that id>`. A client's own id is kept when it is safe to echo; otherwise a UUID is made. No Node API.
 */
export const REQUEST_ID_HEADER = 'x-request-id';

// At most 191 characters, so a problem's instance (`urn:uuid:` and the id) stays within the contract's 200.
const REQUEST_ID = /^[\w.:-]{1,191}$/;

/**
 * The id of a request: the client's x-request-id when it is 1 to 191 of `A-Z a-z 0-9 _ . : -`, else a new UUID.
 * @example requestIdFrom('my-req-123') // 'my-req-123'
 */
export function requestIdFrom(given: string | null | undefined): string {
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}
