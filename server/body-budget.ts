/**
 * A budget for the request bodies the stub works on at once. Once read, a body is parsed, validated, turned into
 * users and rows and kept until its batch is stored and answered: a batch of 1000 is ~200 KB of JSON and several
 * times that as objects, rows and the answer. Twenty clients sending such batches at once made the stub work on all
 * twenty while the writer stored one at a time, so every answer came late. Here a request whose body has been read
 * waits until the bodies admitted before it fit in the budget with it; requests are admitted in the order they came,
 * and one body larger than the whole budget is admitted alone.
 *
 * A request counts from its admission until its answer is handed to the socket (or its connection closes), never
 * while its client is still sending or reading: a slow client holds its own connection, not the others' budget.
 */
import type { RequestHandler, Response } from 'express';

/** The weight of a body whose length was not given (chunked): a batch of ~100 users. */
const UNKNOWN_LENGTH_BYTES = 32 << 10;

interface Waiting {
  bytes: number;
  admit: () => void;
}

/** Calls `done` once, when the response is ended (its last bytes handed to the socket) or its connection closes. */
function onceAnswered(res: Response, done: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    res.off('prefinish', once);
    res.off('close', once);
    done();
  };
  res.once('prefinish', once);
  res.once('close', once);
}

/**
 * Middleware, placed after the body is read: admits a request with a body once the bodies in flight and it add up
 * to at most `maxBytes` (a body over `maxBytes` alone, when nothing else is in flight). 0 admits every request.
 * @example app.use(express.json(), bodyBudget(1 << 20));
 */
export function bodyBudget(maxBytes: number): RequestHandler {
  let inFlight = 0;
  let queue: Waiting[] = [];

  const fits = (bytes: number) => inFlight === 0 || inFlight + bytes <= maxBytes;
  const release = (bytes: number) => {
    inFlight -= bytes;
    while (queue.length > 0 && fits(queue[0]!.bytes)) {
      const next = queue.shift()!;
      inFlight += next.bytes;
      next.admit();
    }
  };

  return (req, res, next) => {
    if (maxBytes <= 0) return next();
    const { headers } = req;
    const length = Number(headers['content-length']);
    let bytes: number;
    if (headers['transfer-encoding'] !== undefined) bytes = UNKNOWN_LENGTH_BYTES;
    else if (length > 0) bytes = length;
    else return next();
    bytes = Math.min(bytes, maxBytes);

    let admitted = false;
    const entry: Waiting = {
      bytes,
      admit: () => {
        admitted = true;
        next();
      },
    };
    onceAnswered(res, () => {
      if (admitted) release(bytes);
      else queue = queue.filter((w) => w !== entry);
    });
    if (queue.length === 0 && fits(bytes)) {
      inFlight += bytes;
      entry.admit();
    } else {
      queue.push(entry);
    }
  };
}
