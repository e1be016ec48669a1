/**
 * When and how long the client waits before it sends a request again (client/sender.ts). A POST or PATCH is retried
 * only with an Idempotency-Key (the sender adds one), so a retry can at worst replay the first answer, never store a
 * batch twice.
 */
import { PROBLEM_TYPE_BASE } from '../generated/problem-kinds.js';

/** Bounds of the automatic retries; every field has a default. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 4). */
  maxAttempts?: number;
  /** No attempt starts, and no wait begins, that would end later than this after the call began (default 60 000 ms). */
  maxElapsedMs?: number;
  /** The first backoff; each next one doubles, with jitter (default 500 ms). */
  baseDelayMs?: number;
  /** The longest backoff between two attempts, when the answer says no `Retry-After` (default 8 000 ms). */
  maxDelayMs?: number;
}

/** The bounds `retry: true` means. */
export const RETRY_DEFAULTS: Required<RetryOptions> = {
  maxAttempts: 4,
  maxElapsedMs: 60_000,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
};

/** Statuses after which the same request may succeed: the server failed, was busy or timed out. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const IN_FLIGHT = `${PROBLEM_TYPE_BASE}idempotency-key-in-flight`;

/** `retry: true | {...}` as bounds, or `undefined` when retries are off. */
export function retryBounds(retry: boolean | RetryOptions | undefined): Required<RetryOptions> | undefined {
  if (!retry) return undefined;
  return { ...RETRY_DEFAULTS, ...(retry === true ? {} : retry) };
}

/**
 * Whether an answer is worth another attempt with the same key: 408, 429, 5xx but 501, and the `409` that says the
 * first request with this key is still running. Never 400, 401, 409 conflicts, 413, 415, 422 or 431: the same
 * request would get the same answer.
 */
export function isRetryableAnswer(status: number, error: unknown): boolean {
  if (RETRYABLE_STATUSES.has(status)) return true;
  return status === 409 && (error as { type?: unknown } | undefined)?.type === IN_FLIGHT;
}

/** Whether a thrown fetch error is worth another attempt: a network failure or this attempt's own timeout. */
export function isRetryableError(error: unknown): boolean {
  if (error instanceof TypeError) return true; // fetch's "network error", a dropped or refused connection
  return error instanceof Error && error.name === 'TimeoutError';
}

/** `Retry-After` in milliseconds (delta-seconds or an HTTP date), or `undefined` when absent or unreadable. */
export function retryAfterMs(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter: between half and all of `base * 2^(attempt-1)`, at most `maxDelayMs`. */
export function backoffMs(attempt: number, bounds: Required<RetryOptions>, random = Math.random): number {
  const ceiling = Math.min(bounds.maxDelayMs, bounds.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A new Idempotency-Key, a UUID v4. `crypto.randomUUID` exists only in secure contexts (https, localhost), so a page
 * served over plain http from another address (a dev server on the LAN) gets one from `getRandomValues` instead.
 */
export function newIdempotencyKey(crypto: Pick<Crypto, 'getRandomValues'> & Partial<Pick<Crypto, 'randomUUID'>> = globalThis.crypto): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
