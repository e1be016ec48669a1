/**
 * Which request bodies the contract accepts, and how a mock reads one, with web-standard APIs only (TextDecoder,
 * DecompressionStream): JSON in UTF-8 (RFC 8259 requires UTF-8 between systems), sent as it is (`identity`) or coded
 * with `gzip` or `deflate`. Any other charset or content coding is refused with 415 by every host, the stub included
 * (server/json-body.ts asks bodyEncodingError first), so no host has to emulate another's decoders.
 */
import { ApiError, PROBLEMS } from './problems.js';

/** The charsets a JSON body may name (none means UTF-8). */
export const ACCEPTED_CHARSETS = ['utf-8'] as const;
/** The content codings a body may be sent with. */
export const ACCEPTED_CODINGS = ['identity', 'gzip', 'deflate'] as const;

/** The media type of a Content-Type value, lower case, without parameters; '' for none. */
export function mediaTypeOf(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The charset parameter of a Content-Type, lower case and unquoted; undefined without one. */
export function charsetOf(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*("?)([^";]*)\1\s*(?:;|$)/i.exec(contentType);
  return match ? match[2]!.trim().toLowerCase() : undefined;
}

/** The content coding of a body, lower case; `identity` when none is named. */
export function codingOf(contentEncoding: string | null | undefined): string {
  return (contentEncoding ?? '').trim().toLowerCase() || 'identity';
}

/**
 * The 415 for a JSON body in a charset or content coding the contract does not accept, or undefined.
 * @example bodyEncodingError('application/json; charset=utf-16', null)?.status // 415
 */
export function bodyEncodingError(contentType: string, contentEncoding: string | null | undefined): ApiError | undefined {
  const charset = charsetOf(contentType);
  if (charset !== undefined && !(ACCEPTED_CHARSETS as readonly string[]).includes(charset)) return PROBLEMS.unsupportedEncoding();
  if (!(ACCEPTED_CODINGS as readonly string[]).includes(codingOf(contentEncoding))) return PROBLEMS.unsupportedEncoding();
  return undefined;
}

/** Whether a Content-Type is JSON the way the stub's body reader takes it: `application/json`, any parameters. */
export function isJsonType(contentType: string | null | undefined): boolean {
  return !!contentType && /^application\/json\s*(;|$)/i.test(contentType.trim());
}

/**
 * Inflates a body sent with an accepted content coding; throws the 400 for one that does not inflate.
 * @example const bytes = await inflate('gzip', raw);
 */
export async function inflate(coding: string, bytes: Uint8Array): Promise<Uint8Array> {
  if (coding === 'identity') return bytes;
  try {
    const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream(coding as CompressionFormat));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    throw PROBLEMS.notInflatable();
  }
}

/**
 * Parses a JSON body as the stub does: UTF-8 (a BOM dropped), an object or an array and nothing else, and no body
 * at all read as `{}`. Throws the malformed-json problem.
 */
export function parseJson(bytes: Uint8Array): unknown {
  const text = new TextDecoder('utf-8').decode(bytes);
  if (text.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*(.)/s.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw PROBLEMS.malformedJson();
  try {
    return JSON.parse(text);
  } catch {
    throw PROBLEMS.malformedJson();
  }
}
