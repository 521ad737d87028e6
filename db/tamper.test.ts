// An attacker with the database file and the sqlite3 shell: edits are refused by triggers, and
// when the triggers are dropped first, `loyalty db verify` finds the broken link. A copied file
// shows no cardholder's phone, e-mail or name to `strings`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from './ledger';

const loyalty = (args: string[]) => spawnSync(process.execPath, ['bin/loyalty.js', ...args], { encoding: 'utf8', timeout: 60_000 });
const sqlite3 = (db: string, sql: string) => spawnSync('sqlite3', [db, sql], { encoding: 'utf8' });

let dir = '';
let db = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tamper-'));
  db = join(dir, 'ledger.db');
  expect(loyalty(['db', 'init', '--db', db]).status).toBe(0);
  for (let i = 0; i < 3; i++) expect(loyalty(['checkout', '--db', db, '--pin', '1111', '--card', '7789000000019', '--basket', 'resources/examples/basket.json']).status).toBe(0);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function secondEntryId(): string {
  return sqlite3(db, 'SELECT id FROM point_entries ORDER BY chain_seq LIMIT 1 OFFSET 1').stdout.trim();
}

describe('tamper evidence', () => {
  it('the sqlite3 shell cannot update or delete a point entry: the triggers refuse', () => {
    const id = secondEntryId();
    const upd = sqlite3(db, `UPDATE point_entries SET points = 100000 WHERE id = '${id}'`);
    expect(upd.status).not.toBe(0);
    expect(upd.stderr).toMatch(/append-only|not allowed|refused/i);
    const del = sqlite3(db, `DELETE FROM point_entries WHERE id = '${id}'`);
    expect(del.status).not.toBe(0);
    expect(loyalty(['db', 'verify', '--db', db]).status).toBe(0);
  });

  it('with the triggers dropped, an edited entry is reported with the broken link', () => {
    const id = secondEntryId();
    const triggers = sqlite3(db, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'point_entries'").stdout.trim().split('\n');
    const drop = triggers.map((t) => `DROP TRIGGER "${t}";`).join(' ');
    // Both the entry and the balance cache are edited, as a careful attacker would.
    const r = sqlite3(db, `${drop} UPDATE point_entries SET points = points + 1000 WHERE id = '${id}'; UPDATE balances SET points = points + 1000;`);
    expect(r.status, r.stderr).toBe(0);
    const verify = loyalty(['db', 'verify', '--db', db]);
    expect(verify.status).toBe(1);
    const report = JSON.parse(verify.stdout);
    expect(report.firstBrokenLink).toMatchObject({ table: 'point_entries', id });
    expect(report.problems.join('\n')).toContain('altered');
  });

  it('with the triggers dropped, a deleted entry is reported', () => {
    const id = secondEntryId();
    const triggers = sqlite3(db, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'point_entries'").stdout.trim().split('\n');
    const r = sqlite3(db, `${triggers.map((t) => `DROP TRIGGER "${t}";`).join(' ')} DELETE FROM point_entries WHERE id = '${id}';`);
    expect(r.status, r.stderr).toBe(0);
    const verify = loyalty(['db', 'verify', '--db', db]);
    expect(verify.status).toBe(1);
    expect(JSON.parse(verify.stdout).problems.join('\n')).toMatch(/missing|balance/);
  });

  it("a card's copy of its holder's profile edited by hand is reported", () => {
    // The copy a swipe reads (migration 0009) swapped for another cardholder's, as if to pass one
    // customer's card off with another's birthday discount.
    const other = new Ledger({ path: db });
    other.enroll({ holder: { surname: 'Петров', birthDate: '1990-06-01' }, cardNumber: '7789000000068', now: new Date().toISOString(), consentPd: true });
    other.close();
    const r = sqlite3(db, "UPDATE cards SET holder_pii = (SELECT holder_pii FROM cards WHERE number = '7789000000068') WHERE number = '7789000000019'");
    expect(r.status, r.stderr).toBe(0);
    const verify = loyalty(['db', 'verify', '--db', db]);
    expect(verify.status).toBe(1);
    expect(JSON.parse(verify.stdout).problems).toContain("1 cards carry a copy of their cardholder's profile that differs from the cardholder's row");
  });
});

describe('privacy of a copied file', () => {
  it('strings shows no phone, e-mail or name', () => {
    const ledger = new Ledger({ path: db });
    ledger.enroll({ holder: { surname: 'Smithson', firstName: 'Johanna', phone: '+7 912 345-67-89', email: 'johanna.smithson@example.com' }, cardNumber: '7789000000068', now: new Date().toISOString(), consentPd: true });
    ledger.close();
    const copy = join(dir, 'copy.db');
    copyFileSync(db, copy);
    if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, `${copy}-wal`);
    for (const file of [copy, `${copy}-wal`].filter(existsSync)) {
      const text = spawnSync('strings', ['-n', '4', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout;
      const bytes = readFileSync(file).toString('utf8');
      for (const needle of ['Smithson', 'Johanna', 'johanna.smithson', 'example.com', '9123456789', '+79123456789', '912 345', '79161234567', 'Иванова', 'Мария']) {
        expect(text.includes(needle), `${needle} in strings of ${file}`).toBe(false);
        expect(bytes.includes(needle), `${needle} in bytes of ${file}`).toBe(false);
      }
    }
  });
});
