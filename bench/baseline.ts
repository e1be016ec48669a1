/**
 * The benchmark's reference: a bare Express 5 app that parses the JSON body exactly as the stub does (express.json,
 * same limit) and echoes the users in the User shape, with no validation, no storage, no logging. Whatever the stub
 * costs beyond this is the price of the contract checks and the database.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { type CreateUser, newUser } from '../core/storage.js';
import { BATCH_PATH } from './data.js';

/**
 * Builds the baseline app; it never listens.
 * @example createBaselineApp({ bodyLimit: parseConfig({}).bodyLimit }).listen(0, '127.0.0.1')
 */
export function createBaselineApp({ bodyLimit }: { bodyLimit: number }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: bodyLimit, type: 'application/json' }));
  app.post(BATCH_PATH, (req, res) => {
    const createdAt = new Date().toISOString();
    // The same User shape the stub answers (newUser), so the two differ only by what the stub adds.
    const users = (req.body as { users: CreateUser[] }).users.map((input) => newUser(input, randomUUID(), createdAt));
    res.status(200).json(users);
  });
  return app;
}
