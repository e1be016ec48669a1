/**
 * Response validation: every body an operation answers with is checked against the contract before it is sent, by
 * an AJV validator compiled once per operation × status × media type from generated/openapi.json. A body that
 * breaks the contract is never sent: checkJsonResponse throws ResponseContractViolation, and the error handler
 * answers a 500 problem and logs what was wrong.
 */
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { OperationId } from '../core/operation.js';
import { at, escapeToken } from '../core/pointers.js';
import { operationsOf } from '../core/spec.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const JSON_MEDIA_TYPE = 'application/json';
/** Validators of one operation's responses: by status (`200`, `4XX` or `default`), then by media type. */
export type ResponseValidators = Map<string, Map<string, ValidateFunction>>;

interface ResponseObject {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
}
interface SpecOperation {
  operationId: OperationId;
  responses?: Record<string, ResponseObject>;
}

/**
 * What AJV found wrong with a body, without the body: it holds personal data, and the log must not. The params name
 * only what the schema expects and the property names involved (`{ additionalProperty: 'fullName' }`).
 */
interface Violation {
  instancePath: string;
  message: string;
  params?: Record<string, unknown>;
}

/** A handler sent a body the contract does not allow for its operation and status: a bug, answered with a 500. */
export class ResponseContractViolation extends Error {
  override name = 'ResponseContractViolation';
  constructor(
    readonly operationId: OperationId,
    readonly status: number,
    readonly violations: Violation[],
  ) {
    super(`the ${status} response of ${operationId} breaks the contract: ${violations.map((v) => `${v.instancePath || '/'} ${v.message}`).join('; ')}`);
  }
}

/** The AJV instance for the contract: JSON Schema 2020-12 (OpenAPI 3.1), full formats, every error listed. */
function contractAjv(spec: object): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv, { mode: 'full' });
  ajv.addSchema(spec, 'openapi.json');
  return ajv;
}

/**
 * Compiles a validator for every response body the contract documents: each operation, status and media type.
 * @example const validators = compileResponseValidators(JSON.parse(specText)); validators.get('createUsersBatch')
 */
export function compileResponseValidators(spec: object): Map<OperationId, ResponseValidators> {
  const ajv = contractAjv(spec);
  const byOperation = new Map<OperationId, ResponseValidators>();
  for (const { path, method, operation } of operationsOf<SpecOperation>(spec)) {
    const byStatus: ResponseValidators = new Map();
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      // Responses are shared components: follow the reference, and compile the schema where it is.
      const pointer = response.$ref?.startsWith('#/') ? response.$ref.slice(1) : `/paths/${escapeToken(path)}/${method}/responses/${status}`;
      const resolved = at(spec, pointer) as ResponseObject;
      const byMediaType = new Map<string, ValidateFunction>();
      for (const [mediaType, media] of Object.entries(resolved.content ?? {})) {
        if (media.schema === undefined) continue;
        byMediaType.set(mediaType, ajv.compile({ $ref: `openapi.json#${pointer}/content/${escapeToken(mediaType)}/schema` }));
      }
      byStatus.set(status.toUpperCase(), byMediaType);
    }
    byOperation.set(operation.operationId, byStatus);
  }
  return byOperation;
}

/** The validator for a status and media type: the exact status first, then its range (`2XX`), then `default`. */
function validatorFor(validators: ResponseValidators, status: number, mediaType: string): ValidateFunction | undefined {
  const forStatus = validators.get(String(status)) ?? validators.get(`${String(status)[0]}XX`) ?? validators.get('DEFAULT');
  return forStatus?.get(mediaType);
}

/**
 * Checks the body an operation answers with a status against that status's application/json schema; a body the
 * contract does not allow must not be sent, so this throws ResponseContractViolation instead (the error handler
 * answers 500 and logs why).
 * @example checkJsonResponse('createUsersBatch', validators.get('createUsersBatch')!, 200, users); res.status(200).json(users);
 */
export function checkJsonResponse(operationId: OperationId, validators: ResponseValidators, status: number, body: unknown): void {
  const validate = validatorFor(validators, status, JSON_MEDIA_TYPE);
  if (!validate) {
    throw new ResponseContractViolation(operationId, status, [
      { instancePath: '', message: `the contract documents no ${JSON_MEDIA_TYPE} body for status ${status}` },
    ]);
  }
  if (validate(body)) return;
  const violations = (validate.errors ?? []).map(({ instancePath, message, params }) => ({
    instancePath,
    message: message ?? 'is not valid',
    params,
  }));
  throw new ResponseContractViolation(operationId, status, violations);
}
