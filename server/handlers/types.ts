/**
 * Handler types derived from the generated operations, so a handler cannot accept or send what the contract
 * does not describe.
 */
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

/** What every handler may use; built once by the app factory. */
export interface HandlerDeps {
  storage: Storage;
}

export type OperationHandler<Op extends OperationId> = (
  req: Request<Record<string, string>, SuccessBody<Op>, RequestBody<Op>>,
  res: Response<SuccessBody<Op>>,
  next: NextFunction,
) => Promise<void>;

/** One handler per operationId: the compiler fails when an operation of the contract has none. */
export type Handlers = { [Op in OperationId]: OperationHandler<Op> };
