/**
 * Handler types derived from the generated operations, so a handler cannot accept or send what the contract
 * does not describe.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { operations } from '../../generated/schema.js';
import type { Storage } from '../storage/storage.js';

export type OperationId = keyof operations;

type JsonContent<T> = T extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON request body of an operation. */
export type RequestBody<Op extends OperationId> = operations[Op] extends { requestBody: infer R }
  ? JsonContent<NonNullable<R>>
  : never;

/** The JSON body of any documented 2xx response of an operation. */
export type SuccessBody<Op extends OperationId> = {
  [S in keyof operations[Op]['responses']]: S extends 200 | 201 | 202 ? JsonContent<operations[Op]['responses'][S]> : never;
}[keyof operations[Op]['responses']];

/** The parameters of an operation that are `in` one part of the request, by name; `{}` when it has none there. */
type ParametersIn<Op extends OperationId, In extends 'path' | 'query' | 'header'> = operations[Op] extends {
  parameters: { [K in In]?: infer P };
}
  ? [NonNullable<P>] extends [never]
    ? Record<string, never>
    : NonNullable<P>
  : Record<string, never>;

/** The path parameters of an operation (`req.params`), by the names of the path template. */
export type PathParams<Op extends OperationId> = ParametersIn<Op, 'path'>;

/** The query parameters of an operation (`req.query`), as the validator has checked them. */
export type QueryParams<Op extends OperationId> = ParametersIn<Op, 'query'>;

/** The header parameters of an operation, by their names in lower case, as Node gives them in `req.headers`. */
export type HeaderParams<Op extends OperationId> = {
  [K in keyof ParametersIn<Op, 'header'> as Lowercase<K & string>]: ParametersIn<Op, 'header'>[K];
};

/** What every handler may use; built once by the app factory. */
export interface HandlerDeps {
  storage: Storage;
}

/**
 * The request a handler of `Op` gets: path parameters, query, headers and body typed from `operations[Op]`, after
 * express-openapi-validator has checked each of them against the contract.
 */
export type OperationRequest<Op extends OperationId> = Request<PathParams<Op>, SuccessBody<Op>, RequestBody<Op>, QueryParams<Op>> & {
  headers: IncomingHttpHeaders & HeaderParams<Op>;
};

/**
 * A handler of one operation.
 * @example const getUser: OperationHandler<'getUser'> = async (req, res) => { res.status(200).json(await find(req.params.id)); };
 */
export type OperationHandler<Op extends OperationId> = (
  req: OperationRequest<Op>,
  res: Response<SuccessBody<Op>>,
  next: NextFunction,
) => Promise<void>;

/** One handler per operationId: the compiler fails when an operation of the contract has none. */
export type Handlers = { [Op in OperationId]: OperationHandler<Op> };
