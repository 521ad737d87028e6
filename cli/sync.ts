// `loyalty sync --db PATH --hq URL [--register CODE] [--once]` — the sync loop from a shell.
import { SyncAgent } from '../sync/agent';
import { Ledger } from '../db/ledger';

export async function syncCommand(values: { db: string; hq: string; register?: string; once?: boolean }, out: (v: unknown) => void): Promise<number> {
  const ledger = new Ledger({ path: values.db });
  const agent = new SyncAgent(ledger, { hqUrl: values.hq, keyFile: `${values.db}.sync-key`, onStatus: (s) => (values.once ? undefined : out(s)) });
  try {
    if (values.register) out({ registered: await agent.register(values.register) });
    if (values.once) {
      try {
        const r = await agent.syncOnce();
        out({ ...r, ...agent.status() });
        return 0;
      } catch {
        out(agent.status());
        return 1;
      }
    }
    agent.start();
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await agent.stop();
    return 0;
  } finally {
    ledger.close();
  }
}
