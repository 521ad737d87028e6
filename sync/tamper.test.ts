// HQ checks every uploaded receipt and point entry against the terminal's hash chain. An entry
// edited in the terminal's database, one deleted, or an old batch replayed under new numbers is
// refused: nothing of it is applied, and HQ's integrity report names the terminal and the row.
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../db/ledger';
import { priceBasket } from '../engine';
import { sql } from '../hq/db';
import { HqClient } from './client';
import { SyncStore } from './store';
import { loadOrCreateTerminalKey } from './keys';
import { demoProgram as program, syncTestbed } from './testkit';

const basket = { lines: [{ sku: 'COFFEE-250', name: 'Кофе', category: 'grocery', qty: 2, unitPrice: 45900 }] };
const bed = syncTestbed();

let cardSeq = 3000;
async function terminalWithSales(sales: number) {
  const { ledger, agent, db } = await bed.terminal();
  const number = luhn(`77890000${cardSeq++}`);
  const card = ledger.enroll({ holder: { firstName: 'Тест', phone: `+7916${String(cardSeq).padStart(7, '0')}` }, cardNumber: number, now: new Date().toISOString(), consentPd: true })!;
  const sell = () => {
    const now = new Date().toISOString();
    return ledger.commitSale({ card, priced: priceBasket(program.program, program.hash, ledger.cardState(ledger.findCard({ number })!), basket, { now }), now });
  };
  for (let i = 0; i < sales; i++) sell();
  return { ledger, agent, db, card, sell };
}

function luhn(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) d *= 2;
    sum += d > 9 ? d - 9 : d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

/** What an attacker with the file does: drop the guards, then rewrite a sale's outbox row (which
 *  names the point entries it uploads) or its point entries. */
function tamper(ledger: Ledger, seq: number, edit: (payload: { rows: { entries: number[] } }, entries: { rowid: number; id: string; kind: string; points: number }[]) => void) {
  ledger.sqlite.exec('DROP TRIGGER outbox_payload_frozen; DROP TRIGGER point_entries_no_update');
  const payload = JSON.parse(ledger.sqlite.prepare('SELECT payload FROM outbox WHERE seq = ?').pluck().get(seq) as string) as { rows: { entries: number[] } };
  const entries = payload.rows.entries.map((rowid) => ledger.sqlite.prepare('SELECT rowid, id, kind, points FROM point_entries WHERE rowid = ?').get(rowid) as { rowid: number; id: string; kind: string; points: number });
  edit(payload, entries);
  ledger.sqlite.prepare('UPDATE outbox SET payload = ? WHERE seq = ?').run(JSON.stringify(payload), seq);
}

async function receiptsAtHq(terminalId: string) {
  return Number(((await bed.hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts WHERE terminal_id = ${terminalId}`))[0] as { n: string }).n);
}

describe('HQ verifies each terminal’s hash chain', () => {
  it('an edited point entry is refused, nothing of it applied, and the report names the terminal and the entry', async () => {
    const t = await terminalWithSales(2);
    await t.agent.syncOnce(); // enrollment and two sales: HQ's head is now at the second sale
    t.sell();
    const seq = t.ledger.sqlite.prepare('SELECT max(seq) FROM outbox').pluck().get() as number;
    let entryId = '';
    tamper(t.ledger, seq, (_, entries) => {
      const earn = entries.find((e) => e.kind === 'earn')!;
      entryId = earn.id;
      t.ledger.sqlite.prepare('UPDATE point_entries SET points = ? WHERE rowid = ?').run(earn.points + 1000, earn.rowid); // a generous cashier
    });
    const balanceBefore = (await bed.hq.service.balances()).get(t.card.cardholderId);
    await t.agent.syncOnce();
    expect(await receiptsAtHq(t.ledger.terminalId)).toBe(2);
    expect((await bed.hq.service.balances()).get(t.card.cardholderId)).toBe(balanceBefore);
    const report = await bed.hq.service.integrityReport();
    const row = report.find((r) => r.terminal_id === t.ledger.terminalId)!;
    expect(row.reason).toMatch(/altered/);
    expect(row.reason).toContain(entryId);
    expect(row.evidence).toMatchObject({ id: entryId, table: 'point_entries' });
    t.ledger.close();
  });

  it('a deleted point entry breaks the chain: refused and reported', async () => {
    const t = await terminalWithSales(1);
    await t.agent.syncOnce();
    t.sell();
    t.sell();
    const seq = (t.ledger.sqlite.prepare('SELECT max(seq) FROM outbox').pluck().get() as number) - 1;
    let removed = '';
    tamper(t.ledger, seq, (p, entries) => {
      removed = entries[0]!.id;
      p.rows.entries.splice(0, 1);
    });
    await t.agent.syncOnce();
    expect(await receiptsAtHq(t.ledger.terminalId)).toBe(1); // neither the gutted sale nor the one after
    const rows = (await bed.hq.service.integrityReport()).filter((r) => r.terminal_id === t.ledger.terminalId);
    expect(rows).toHaveLength(2);
    const reasons = rows.map((r) => r.reason).join('\n');
    expect(reasons).toMatch(/do not add up/); // the gutted sale
    expect(reasons).toMatch(/missing row/); // the sale after it cannot continue the chain
    expect(removed).not.toBe('');
    t.ledger.close();
  });

  it('an old batch replayed under new numbers is refused and reported; nothing is counted twice', async () => {
    const t = await terminalWithSales(3);
    await t.agent.syncOnce();
    const before = await receiptsAtHq(t.ledger.terminalId);
    const balance = (await bed.hq.service.balances()).get(t.card.cardholderId);
    const old = new SyncStore(t.ledger).pending(1000, 0).filter((o) => o.kind === 'sale');
    const acked = old.at(-1)!.seq;
    // The attacker signs with the terminal's own key: the request is authentic, the content is not.
    const client = new HqClient(bed.hq.url, t.ledger.terminalId, loadOrCreateTerminalKey(`${t.db}.sync-key`));
    const response = await client.push(old.map((op, i) => ({ ...op, seq: acked + 1 + i })), 0, null);
    expect(response.results.every((r) => r.status === 'rejected')).toBe(true);
    expect(await receiptsAtHq(t.ledger.terminalId)).toBe(before);
    expect((await bed.hq.service.balances()).get(t.card.cardholderId)).toBe(balance);
    const rows = (await bed.hq.service.integrityReport()).filter((r) => r.terminal_id === t.ledger.terminalId);
    expect(rows.map((r) => r.op_id).sort()).toEqual(old.map((o) => o.opId).sort());
    expect(rows[0]!.reason).toMatch(/replayed/);
    t.ledger.close();
  });
});
