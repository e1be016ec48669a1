/**
 * Runs the Prism mock of the contract (generated/openapi.json): Prism in this process (mock/prism.ts) behind the
 * contract front (mock/contract-front.ts), which listens on the one port there is. Nothing else listens and no
 * process is started, so there is no address where a request skips the contract's checks, and nothing outlives
 * the process that started the mock.
 *
 * Prism always runs as with `--errors`. In mock mode Prism already answers an invalid request with the spec's own
 * 400/401/415 response; what `--errors` adds is that a response Prism itself produced (an example, or
 * `Prefer: dynamic=true` data) which breaks the response schema becomes a 500 problem listing the violations,
 * instead of being served with only an `sl-violations` header nobody reads. The mock then never teaches a frontend
 * a shape the API will not send.
 */
import { join, resolve } from 'node:path';
import { startContractFront, type ContractFront } from './contract-front.js';
import { loadPrism, type Prism } from './prism.js';

const ROOT = resolve(import.meta.dirname, '..');
export const DEFAULT_SPEC_PATH = join(ROOT, 'generated', 'openapi.json');
const OUTPUT_KEPT_CHARS = 16_384;

export interface MockOptions {
  /** 0 or undefined: a free port on `host`. */
  port?: number;
  host?: string;
  /**
   * The OpenAPI document to mock; generated/openapi.json by default. The front checks requests only against that
   * one: another spec's requests go to Prism as they came.
   */
  specPath?: string;
  /** Generated data (`prism mock -d`) instead of the spec's examples unless a request says `Prefer: dynamic=false`. */
  dynamic?: boolean;
  /** Receives Prism's log as it is written; otherwise it is only kept for error messages. */
  onOutput?: (text: string) => void;
  /** Only these tenants (UUID v4) are accepted, as the stub's HESH_TENANTS; any well-formed one otherwise. */
  tenants?: readonly string[];
  /** Remember created users and Idempotency-Keys per tenant and answer as the stub does (mock/contract-front.ts). */
  stateful?: boolean;
}

export interface RunningMock {
  /** The base URL, such as http://127.0.0.1:4010, without a trailing slash: the mock's only address. */
  url: string;
  /** Closes the port and its connections; resolves once it is closed. Safe to call more than once. */
  stop: () => Promise<void>;
  /** The last part of Prism's log, for a failing test to show. */
  output: () => string;
}

/**
 * Loads Prism on the spec and starts the front; resolves once the front listens, when the mock already answers.
 * Rejects if the spec cannot be loaded or the port cannot be taken, and then leaves nothing open.
 * @example
 * const mock = await startMock();
 * await fetch(`${mock.url}/api/v1/public/users/batch`, { method: 'POST', ... });
 * await mock.stop();
 */
export async function startMock(options: MockOptions = {}): Promise<RunningMock> {
  const host = options.host ?? '127.0.0.1';
  const specPath = options.specPath ?? DEFAULT_SPEC_PATH;
  let log = '';
  const record = (text: string): void => {
    log = (log + text).slice(-OUTPUT_KEPT_CHARS);
    options.onOutput?.(text);
  };

  let prism: Prism;
  try {
    prism = await loadPrism({ specPath, dynamic: options.dynamic ?? false, log: record });
  } catch (error) {
    throw new Error(`Prism could not load ${specPath}: ${(error as Error).message}`);
  }
  let front: ContractFront;
  try {
    front = await startContractFront({
      prism: prism.answer,
      checked: specPath === DEFAULT_SPEC_PATH,
      tenants: options.tenants,
      stateful: options.stateful,
      host,
      port: options.port ?? 0,
    });
  } catch (error) {
    prism.close();
    throw new Error(`The mock could not listen on ${host}:${options.port ?? 0}: ${(error as Error).message}`);
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= front.close().finally(() => prism.close()));
  return { url: front.url, stop, output: () => log };
}
