/**
 * A budget for the request bodies the stub holds at once. A body is read, parsed, validated, turned into users and
 * rows and kept until its batch is stored and answered: a batch of 1000 is ~200 KB of JSON and ten times that once
 * parsed and answered. Twenty clients sending such batches at once made the process hold them all (peak RSS 350 MB)
 * while the writer stored one at a time. Here a request with a body waits, unread, until the bodies admitted before
 * it fit in the budget with it; its socket is not read meanwhile, so TCP holds the client back. Requests are
 * admitted in the order they came, and one body larger than the whole budget is admitted alone.
 */
import type { RequestHandler } from 'express';

/** The weight of a chunked body, whose length is not known before it is read: a batch of ~100 users. */
const UNKNOWN_LENGTH_BYTES = 32 << 10;

interface Waiting {
  bytes: number;
  admit: () => void;
}

/**
 * Middleware that admits a request with a body once the bodies in flight and it add up to at most `maxBytes`
 * (a body over `maxBytes` alone when nothing else is in flight), and counts it until its response is closed.
 * 0 admits every request at once.
 * @example app.use(bodyBudget(1 << 20));
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
    // A body over the limit is refused by the reader without being kept: it weighs no more than the budget.
    bytes = Math.min(bytes, maxBytes);

    let admitted = false;
    const entry: Waiting = {
      bytes,
      admit: () => {
        admitted = true;
        next();
      },
    };
    // Closed: answered, or the client went away (waiting or not). Either way its share of the budget is free.
    res.once('close', () => {
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
