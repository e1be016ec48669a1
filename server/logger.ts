import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/** The stub's JSON logger: one line per event on stdout. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { service: 'hesh-users-stub' } });
}
