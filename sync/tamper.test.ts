// HQ checks every uploaded receipt and point entry against the terminal's hash chain. An entry
// edited in the terminal's database, one deleted, or an old batch replayed under new numbers is
// refused: nothing of it is applied, and HQ's integrity report names the terminal and the row.
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../db/ledger';
import { priceBasket } from '../engine';
import { sql } from '../hq/db';
import { HqClient } from './client';
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

/** What an attacker with the file does: drop the guards, then rewrite a sale's payload. */
function tamperPayload(ledger: Ledger, seq: number, edit: (payload: { entries: Record<string, unknown>[] }) => void) {
  ledger.sqlite.exec('DROP TRIGGER outbox_payload_frozen; DROP TRIGGER point_entries_no_update');
  const payload = JSON.parse(ledger.sqlite.prepare('SELECT payload FROM outbox WHERE seq = ?').pluck().get(seq) as string);
  edit(payload);
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
    tamperPayload(t.ledger, seq, (p) => {
      const earn = p.entries.find((e) => e.kind === 'earn')!;
      entryId = String(earn.id);
      earn.points = Number(earn.points) + 1000; // a generous cashier
      t.ledger.sqlite.prepare('UPDATE point_entries SET points = ? WHERE id = ?').run(earn.points, earn.id);
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
    tamperPayload(t.ledger, seq, (p) => {
      removed = String(p.entries[0]!.id);
      p.entries.splice(0, 1);
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
    const old = t.ledger.sqlite.prepare("SELECT seq, op_id AS opId, kind, created_at AS createdAt, CAST(payload AS BLOB) AS payloadJson FROM outbox WHERE kind = 'sale' ORDER BY seq").all() as {
      seq: number;
      opId: string;
      kind: string;
      createdAt: string;
      payloadJson: Buffer;
    }[];
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
