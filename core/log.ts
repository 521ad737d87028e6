// Structured logs (pino) to <dataDir>/terminal.log, written synchronously: lines are few (starts,
// refusals, errors) and must survive a crash. Card numbers never reach a log line: readers
// and the core log masked numbers only.
import pino from 'pino';
import { join } from 'node:path';

export type Logger = pino.Logger;

export function createLogger(dataDir: string, level = process.env.LOYALTY_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'terminal' } }, pino.destination({ dest: join(dataDir, 'terminal.log'), mkdir: true, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
