/**
 * Response validation: every body a handler sends with res.json is checked against the contract before it is
 * serialized, by an AJV validator compiled once per operation × status × media type from generated/openapi.json.
 * A body that breaks the contract is never sent: res.json throws ResponseContractViolation, and the error handler
 * answers a 500 problem and logs what was wrong.
 */
import type { RequestHandler, Response } from 'express';
import { _, str, type CodeKeywordDefinition, type FormatDefinition, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ucs2lengthModule from 'ajv/dist/runtime/ucs2length.js';
import addFormatsModule from 'ajv-formats';
import type { OperationId } from '../core/operation.js';
import { at, escapeToken } from '../core/pointers.js';
import { operationsOf } from '../core/spec.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
type CountCodePoints = (text: string) => number;
// A CommonJS module: its default export is module.exports under Node, module.exports.default once transpiled.
const ucs2length: CountCodePoints =
  typeof ucs2lengthModule === 'function'
    ? (ucs2lengthModule as CountCodePoints)
    : (ucs2lengthModule as unknown as { default: CountCodePoints }).default;

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

/**
 * maxLength and minLength, as JSON Schema means them (in code points, which AJV counts with ucs2length), with a
 * shortcut: a string has at most as many code points as UTF-16 units and at least half as many, so the count is only
 * made when `length` alone cannot decide, which for the contract's limits is almost never. Same result and same
 * errors as AJV's own keyword.
 */
const LIMIT_LENGTH: CodeKeywordDefinition = {
  keyword: ['maxLength', 'minLength'],
  type: 'string',
  schemaType: 'number',
  $data: true,
  error: {
    message: ({ keyword, schemaCode }) => str`must NOT have ${keyword === 'maxLength' ? 'more' : 'fewer'} than ${schemaCode} characters`,
    params: ({ schemaCode }) => _`{limit: ${schemaCode}}`,
  },
  code(cxt) {
    const { keyword, data, schemaCode, gen } = cxt;
    const count = gen.scopeValue('func', { ref: ucs2length });
    cxt.fail$data(
      keyword === 'maxLength'
        ? _`${data}.length > ${schemaCode} && ${count}(${data}) > ${schemaCode}`
        : _`${data}.length < 2 * ${schemaCode} && ${count}(${data}) < ${schemaCode}`,
    );
  },
};

/** The AJV instance for the contract: JSON Schema 2020-12 (OpenAPI 3.1), full formats, every error listed. */
function contractAjv(spec: object): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv, { mode: 'full' });
  ajv.removeKeyword('maxLength');
  ajv.removeKeyword('minLength');
  ajv.addKeyword(LIMIT_LENGTH);
  // Every user of a batch has the same created_at: the full check (a regex and a calendar check) runs once for it,
  // not once per user. Only the last valid string is remembered, so the answer is the same as without it.
  const dateTime = ajv.formats['date-time'] as FormatDefinition<string> | undefined;
  if (typeof dateTime?.validate !== 'function') throw new Error('ajv-formats defines no date-time check to wrap');
  const check = dateTime.validate as (value: string) => boolean;
  let lastValid: string | undefined;
  ajv.addFormat('date-time', {
    ...dateTime,
    validate: (value: string) => {
      if (value === lastValid) return true;
      const valid = check(value);
      if (valid) lastValid = value;
      return valid;
    },
  });
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
 * Route middleware for one operation: its handler's res.json validates the body against the status's
 * application/json schema, then serializes it once; a body the contract does not allow is not sent, and res.json
 * throws ResponseContractViolation instead (an async handler's error goes to the error handler).
 * @example app.post(route, validateJsonResponses('createUsersBatch', validators.get('createUsersBatch')!), handler)
 */
export function validateJsonResponses(operationId: OperationId, validators: ResponseValidators): RequestHandler {
  function json(this: Response, body: unknown): Response {
    const status = this.statusCode;
    const validate = validatorFor(validators, status, JSON_MEDIA_TYPE);
    if (!validate) {
      throw new ResponseContractViolation(operationId, status, [
        { instancePath: '', message: `the contract documents no ${JSON_MEDIA_TYPE} body for status ${status}` },
      ]);
    }
    if (!validate(body)) {
      const violations = (validate.errors ?? []).map(({ instancePath, message, params }) => ({
        instancePath,
        message: message ?? 'is not valid',
        params,
      }));
      throw new ResponseContractViolation(operationId, status, violations);
    }
    // Serialized once, here; res.send only encodes the text.
    this.set('Content-Type', 'application/json; charset=utf-8');
    this.send(JSON.stringify(body));
    return this;
  }
  return (_req, res, next) => {
    res.json = json;
    next();
  };
}
