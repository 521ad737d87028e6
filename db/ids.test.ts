import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { canonicalJson, chainHash, withReceiptFields } from '../protocol/chain';
import { verifyOperation } from '../hq/chain';
import { priceBasket, validateProgram } from '../engine';
import { Ledger } from './ledger';
import { uuidv7 } from './ids';
import { SyncStore } from '../sync/store';

describe('uuidv7', () => {
  it('is a version-7, variant-10 UUID, strictly increasing within the process, never repeated', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries the millisecond it was made in its first 48 bits', () => {
    const before = Date.now();
    const id = uuidv7();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });
});

describe('canonical JSON (what the chain hashes, on the terminal and at HQ)', () => {
  it('sorts keys by code unit, drops undefined members, keeps nulls, no whitespace', () => {
    const row = { b: 1, a: 'x', é: null, Z: [3, undefined, { d: true, c: 'й' }], u: undefined, n: -0.5 };
    expect(canonicalJson(row)).toBe('{"Z":[3,null,{"c":"й","d":true}],"a":"x","b":1,"n":-0.5,"é":null}');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    // Two shapes whose keys join to the same text are still told apart.
    expect(canonicalJson({ 'b\u0001a': 1 })).toBe('{"b\\u0001a":1}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(canonicalJson({ n: NaN, i: Infinity, z: -0 })).toBe('{"i":null,"n":null,"z":0}');
  });

  it('gives the same hash whatever order the keys were written in', () => {
    const h = (r: Record<string, unknown>) => chainHash('0'.repeat(64), r);
    expect(h({ id: 'r1', points: 5, kind: 'earn' })).toBe(h({ kind: 'earn', id: 'r1', points: 5 }));
    expect(h({ id: 'r1', points: 5 })).not.toBe(h({ id: 'r1', points: 6 }));
  });
});

describe('the compact upload of a sale', () => {
  it('names the rows the sale wrote; the upload leaves out of each entry what it shares with its receipt, and HQ gets back the rows the terminal chained', () => {
    const ledger = new Ledger({ path: ':memory:' });
    const card = ledger.enroll({ holder: { firstName: 'Вера' }, cardNumber: '7789000000084', now: '2026-12-02T10:00:00.000Z', consentPd: true })!;
    const program = validateProgram(JSON.parse(readFileSync('resources/demo-program.json', 'utf8')));
    if (!program.ok) throw new Error('demo program');
    const now = '2026-12-02T10:05:00.000Z';
    const basket = { lines: [{ sku: 'TEA-100', name: 'Чай «Утро»', category: 'grocery', qty: 1, unitPrice: 19900 }] };
    const sale = ledger.commitSale({ card, priced: priceBasket(program.program, program.hash, ledger.cardState(card), basket, { now }), now });
    // The outbox row names the receipt and entries the sale wrote, not a second copy of them.
    const stored = JSON.parse(ledger.sqlite.prepare('SELECT payload FROM outbox WHERE seq = ?').pluck().get(sale.outboxSeq) as string) as { rows: { receipt: number; entries: number[] } };
    const rows = ledger.sqlite.prepare('SELECT rowid FROM point_entries WHERE receipt_id = ? ORDER BY chain_seq').pluck().all(sale.receiptId);
    expect(stored).toEqual({ rows: { receipt: ledger.sqlite.prepare('SELECT rowid FROM receipts WHERE id = ?').pluck().get(sale.receiptId), entries: rows }, redeemOffered: 0 });
    // Sent as ASCII, Cyrillic as \u escapes.
    const sent = new SyncStore(ledger).pending(10).find((o) => o.seq === sale.outboxSeq)!.payloadJson.toString('latin1');
    expect(sent).toMatch(/^[\x20-\x7e]*$/);
    expect(sent).toContain('\\u0427\\u0430\\u0439 \\u00ab');
    const upload = JSON.parse(sent) as { receipt: Record<string, unknown>; entries: Record<string, unknown>[]; lines: Record<string, unknown>[] };
    expect(Object.keys(upload)).toEqual(['receipt', 'lines', 'entries', 'redeemOffered']);
    expect(upload.receipt).toMatchObject({ id: sale.receiptId, number: sale.receiptNumber, chainSeq: sale.chainSeq });
    // A line carries what a return on another terminal needs of it (HQ gives it there).
    expect(upload.lines[0]).toMatchObject({ lineNo: 1, name: 'Чай «Утро»', unitPrice: 19900, pointsRedeemed: 0 });
    expect(upload.entries.length).toBeGreaterThan(0);
    for (const e of upload.entries) expect(Object.keys(e)).not.toContain('cardholderId');
    const entries = ledger.sqlite.prepare('SELECT * FROM point_entries WHERE receipt_id = ? ORDER BY chain_seq').all(sale.receiptId) as Record<string, unknown>[];
    const full = (withReceiptFields('sale', upload) as { entries: Record<string, unknown>[] }).entries;
    expect(full.map((e) => [e.id, e.prevHash, e.hash, e.cardholderId, e.receiptId, e.createdAt, e.reason])).toEqual(entries.map((e) => [e.id, e.prev_hash, e.hash, e.cardholder_id, e.receipt_id, e.created_at, e.reason]));
    // HQ's own check accepts it from the head before the receipt, and a payload in the full form passes through as it is.
    const head = { seq: (upload.receipt.chainSeq as number) - 1, hash: upload.receipt.prevHash as string };
    expect(verifyOperation(head, 'sale', withReceiptFields('sale', upload))).toMatchObject({ ok: true, head: { hash: entries.at(-1)!.hash } });
    const fullForm = { ...upload, entries: full };
    expect(withReceiptFields('sale', fullForm)).toEqual(fullForm);
    // A sale's row written whole (before its rows were named) goes as it was written.
    const old = ledger.appendOutbox('sale', 'old-sale', now, upload);
    expect(JSON.parse(new SyncStore(ledger).pending(10).find((o) => o.seq === old)!.payloadJson.toString())).toEqual(upload);
    ledger.close();
  });
});
