/**
 * The one sender of a client: every request, the raw typed methods (`users.POST(...)`) and `createUsersBatch`
 * alike, goes through it as openapi-fetch's `fetch` (stripe-node's RequestSender). It bounds each attempt by the
 * client's `timeout` and, when retries are on, retries safely: a `POST` or `PATCH` without an `Idempotency-Key`
 * gets one, the same on every attempt, so a retry can at worst replay the first answer, never store twice.
 */
import { backoffMs, isRetryableAnswer, isRetryableError, newIdempotencyKey, retryAfterMs, sleep, type RetryOptions } from './retry.js';

/** A fetch as openapi-fetch calls it. */
export type FetchLike = (input: Request) => Promise<Response>;

/** Methods that are not idempotent by themselves (RFC 9110 §9.2.2): retried only with an Idempotency-Key. */
const NEEDS_KEY = new Set(['POST', 'PATCH']);
const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** Thrown when no attempt got an answer (network errors or timeouts) and retries, if on, are exhausted. */
export class UsersRequestError extends Error {
  override readonly name = 'UsersRequestError';
  constructor(
    message: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

export interface SenderOptions {
  /** The fetch to use, looked up on every attempt (a test double or MSW installed later is used). */
  fetch: () => FetchLike;
  /** How long one attempt may take, answer body included, before it fails with a `TimeoutError`. */
  timeout?: number;
  /** Retry bounds, or undefined for one attempt. */
  bounds?: Required<RetryOptions>;
  /** Told, once per request, how many attempts it took and the key it carried. */
  report?: (attempts: number, idempotencyKey: string | undefined) => void;
}

/** One attempt, bounded by `timeout`. */
function attempt(request: Request, fetchNow: FetchLike, timeout: number | undefined): Promise<Response> {
  if (timeout === undefined) return fetchNow(request);
  // A timer of our own rather than AbortSignal.timeout(), and one that holds the request it aborts: a signal
  // follows another only weakly, so a request that nothing else holds (a fetch double that waits for its abort)
  // would be collected and never time out. Left to run out (unref'd), the timer also bounds reading the body.
  const controller = new AbortController();
  const forwarded = new Request(request, { signal: controller.signal });
  const timer = setTimeout(() => {
    if (!forwarded.signal.aborted) controller.abort(new DOMException(`no answer within ${timeout} ms`, 'TimeoutError'));
  }, timeout);
  (timer as { unref?: () => void }).unref?.();
  if (request.signal.aborted) controller.abort(request.signal.reason);
  else request.signal.addEventListener('abort', () => controller.abort(request.signal.reason), { once: true });
  return fetchNow(forwarded);
}

/** The problem body of an answer, for the one retryable 409 (idempotency-key-in-flight); undefined otherwise. */
async function problemOf(response: Response): Promise<unknown> {
  if (response.status !== 409) return undefined;
  return response.clone().json().catch(() => undefined);
}

/**
 * Creates the sender: a fetch that openapi-fetch calls for every request of the client.
 * @example createClient<paths>({ baseUrl, fetch: createSender({ fetch: () => globalThis.fetch, bounds: retryBounds(true) }) })
 */
export function createSender(options: SenderOptions): FetchLike {
  const { timeout, bounds, report } = options;
  return async (request) => {
    if (!bounds) {
      try {
        return await attempt(request, options.fetch(), timeout);
      } finally {
        report?.(1, request.headers.get(IDEMPOTENCY_HEADER) ?? undefined);
      }
    }
    let first = request;
    if (NEEDS_KEY.has(request.method.toUpperCase()) && !request.headers.has(IDEMPOTENCY_HEADER)) {
      const headers = new Headers(request.headers);
      headers.set(IDEMPOTENCY_HEADER, newIdempotencyKey());
      first = new Request(request, { headers });
    }
    const key = first.headers.get(IDEMPOTENCY_HEADER) ?? undefined;
    const { signal } = first;
    const started = Date.now();
    for (let n = 1; ; n++) {
      signal.throwIfAborted();
      let response: Response;
      try {
        // A clone per attempt: a body is read once, and the next attempt sends it again.
        response = await attempt(first.clone(), options.fetch(), timeout);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const wait = backoffMs(n, bounds);
        if (!isRetryableError(error) || n >= bounds.maxAttempts || Date.now() - started + wait > bounds.maxElapsedMs) {
          report?.(n, key);
          const path = new URL(first.url).pathname;
          throw new UsersRequestError(`${first.method} ${path} failed after ${n} attempt(s): ${String(error)}`, n, { cause: error });
        }
        await sleep(wait, signal);
        continue;
      }
      const wait = retryAfterMs(response) ?? backoffMs(n, bounds);
      if (!isRetryableAnswer(response.status, await problemOf(response)) || n >= bounds.maxAttempts || Date.now() - started + wait > bounds.maxElapsedMs) {
        report?.(n, key);
        return response;
      }
      await response.body?.cancel();
      await sleep(wait, signal);
    }
  };
}
