// quick_check on a big ledger takes seconds, so start-up does it in a worker thread on its own
// read-only connection while the terminal is already serving (WAL lets both read). Until it
// answers the ledger is 'checking'; a failure turns into a clear refusal to record new sales.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

export type IntegrityState = { status: 'ok' | 'checking' } | { status: 'failed'; message: string };

const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let result;
try {
  const db = new Database(workerData.path, { readonly: true, fileMustExist: true });
  result = String(db.pragma('quick_check', { simple: true }));
  db.close();
} catch (e) {
  result = String(e && e.message || e);
}
parentPort.postMessage(result);
`;

export function quickCheckInBackground(path: string): Promise<string> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  return new Promise((resolve) => {
    const w = new Worker(workerCode, { eval: true, workerData: { path, driver } });
    w.once('message', (m: string) => resolve(m));
    w.once('error', (e) => resolve(e.message));
    w.unref();
  });
}
