import { join } from 'node:path';

/** Where the terminal keeps its ledger, key, backups and logs unless told otherwise. */
export function defaultDataDir(): string {
  return process.env.LOYALTY_DATA_DIR ?? join(process.cwd(), '.data', 'terminal');
}
