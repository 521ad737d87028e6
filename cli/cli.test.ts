import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Ledger } from '../db/ledger';
import { validateProgram } from '../engine';

// The real `loyalty` bin in a child process, as a shell user would run it.
function loyalty(args: string[], stdin?: string) {
  const r = spawnSync(process.execPath, ['bin/loyalty.js', ...args], { input: stdin ?? '', encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

let dir = '';
let db = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-'));
  db = join(dir, 'ledger.db');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function receiptCount(): number {
  const sqlite = new Database(db, { readonly: true });
  try {
    return sqlite.prepare('SELECT count(*) FROM receipts').pluck().get() as number;
  } finally {
    sqlite.close();
  }
}

describe('loyalty CLI', () => {
  it('initialises a ledger, checks out twice, and verifies', () => {
    const init = loyalty(['db', 'init', '--db', db]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json().program.id).toBeTruthy();

    const first = loyalty(['checkout', '--db', db, '--pin', '1111', '--card', '7789000000019', '--basket', 'resources/examples/basket.json']);
    expect(first.code, first.stderr).toBe(0);
    const second = loyalty(['checkout', '--db', db, '--pin', '1111', '--card', '7789000000019', '--basket', 'resources/examples/basket.json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json().receiptNumber).not.toBe(first.json().receiptNumber);
    expect(second.json().customer.balance).toBeGreaterThan(first.json().customer.balance);
    expect(receiptCount()).toBe(2);

    const verify = loyalty(['db', 'verify', '--db', db]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.json()).toMatchObject({ ok: true, receipts: 2 });
  });

  it('refuses garbage reader data with exit 2 and one clear line', () => {
    const r = loyalty(['parse-card'], 'garbage');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^loyalty: /);
    expect(r.stdout).toBe('');
  });

  it('parse-card reads track text, a hex MagTek report, an ATR and an APDU response', () => {
    expect(loyalty(['parse-card'], ';7789000000019=2812?').json()).toMatchObject({ format: 'card', card: { cardNumber: '7789000000019' } });
    const report = Buffer.alloc(337);
    const t2 = ';7789000000019=2812?';
    report[4] = t2.length;
    report.write(t2, 117, 'latin1');
    expect(loyalty(['parse-card', '--format', 'hid', '--layout', 'magtek'], report.toString('hex')).json()).toMatchObject({ format: 'hid', layout: 'magtek', card: { cardNumber: '7789000000019' } });
    expect(loyalty(['parse-card'], '3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A').json()).toMatchObject({ format: 'atr', atr: { protocols: [0, 1] } });
    expect(loyalty(['parse-card', '--format', 'apdu'], '6C 12').json()).toMatchObject({ format: 'apdu', sw: '6C12', next: 'resend with Le=18' });
    const bad = loyalty(['parse-card', '--format', 'hid', '--layout', 'idtech'], '02 05 00 01');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^loyalty: The reader sent an unreadable report/);
  });

  it('refuses a malformed basket with exit 2 and writes nothing', () => {
    const before = receiptCount();
    for (const basket of ['resources/examples/bad-basket.json', join(dir, 'missing.json')]) {
      const r = loyalty(['checkout', '--db', db, '--pin', '1111', '--card', '7789000000019', '--basket', basket]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, '{ "lines": [');
    expect(loyalty(['checkout', '--db', db, '--pin', '1111', '--card', '7789000000019', '--basket', notJson]).code).toBe(2);
    expect(receiptCount()).toBe(before);
  });

  it('does not create a ledger for a command that needs an existing one', () => {
    const missing = join(dir, 'nope', 'ledger.db');
    const r = loyalty(['checkout', '--db', missing, '--pin', '1111', '--card', '7789000000019', '--basket', 'resources/examples/basket.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no ledger/);
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses an unknown card and unknown flags with exit 2', () => {
    expect(loyalty(['checkout', '--db', db, '--pin', '1111', '--card', '7789000000993', '--basket', 'resources/examples/basket.json']).code).toBe(2);
    expect(loyalty(['db', 'verify', '--db', db, '--bogus']).code).toBe(2);
    expect(loyalty(['frobnicate']).code).toBe(2);
    // A value that looks like a flag: one line that says how to pass it, then the value's own check.
    const dashed = loyalty(['seed', '--db', join(dir, 'dashed.db'), '--cards', '-5']);
    expect(dashed.code).toBe(2);
    expect(dashed.stderr.trim().split('\n')).toHaveLength(1);
    expect(dashed.stderr).toMatch(/--cards=-/);
    expect(loyalty(['seed', '--db', join(dir, 'dashed.db'), '--cards=-5']).stderr).toMatch(/--cards must be a whole number above 0, not "-5"/);
    expect(existsSync(join(dir, 'dashed.db'))).toBe(false);
  });

  it('seeds a realistic ledger, runs the ledger jobs twice (the second writes nothing), backs up and restores after damage', () => {
    const seeded = join(dir, 'seeded.db');
    const seed = loyalty(['seed', '--db', seeded, '--cards', '300', '--active-share', '0.5']);
    expect(seed.code, seed.stderr).toBe(0);
    expect(seed.json()).toMatchObject({ ok: true, cards: 300 });
    expect(seed.json().receipts).toBeGreaterThan(150);
    expect(loyalty(['seed', '--db', seeded, '--cards', '5']).code).toBe(2); // never over an existing ledger

    const later = '2029-01-01T00:00:00.000Z'; // every lot has expired by then
    const jobs = loyalty(['jobs', 'run', '--db', seeded, '--now', later]);
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(jobs.json().expiredLots).toBeGreaterThan(0);
    expect(loyalty(['jobs', 'run', '--db', seeded, '--now', later]).json()).toMatchObject({ expiredLots: 0, expiredPoints: 0, burnedCardholders: 0 });
    expect(loyalty(['db', 'verify', '--db', seeded]).json()).toMatchObject({ ok: true });

    const backup = loyalty(['db', 'backup', '--db', seeded]);
    expect(backup.code, backup.stderr).toBe(0);
    // Another ledger in the same folder backs up after it: its backup is never taken for this one's.
    const other = join(dir, 'seeded-too.db');
    expect(loyalty(['seed', '--db', other, '--cards', '5']).code).toBe(0);
    expect(loyalty(['db', 'backup', '--db', other, '--keep', '1']).code).toBe(0);
    // Damage the ledger file: overwrite pages in the middle.
    const sqlite = new Database(seeded);
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    sqlite.close();
    const fd = openSync(seeded, 'r+');
    writeSync(fd, Buffer.alloc(64 * 1024, 0x5a), 0, 64 * 1024, 8192);
    closeSync(fd);
    const broken = loyalty(['db', 'verify', '--db', seeded]);
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/restore/i);

    const restore = loyalty(['db', 'restore', '--db', seeded]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.json().restoredFrom).toBe(backup.json().backup);
    expect(existsSync(restore.json().damagedKeptAt)).toBe(true);
    expect(loyalty(['db', 'verify', '--db', seeded]).json()).toMatchObject({ ok: true });
  });

  it('runs the ledger jobs by the program in force at --now: a version HQ published for a moment that has come is put in force first', () => {
    const seeded = join(dir, 'scheduled.db');
    expect(loyalty(['seed', '--db', seeded, '--cards', '200', '--active-share', '0.5']).code).toBe(0);
    // HQ's version 2, fed to this ledger before its moment: it burns points after 30 days without a purchase (the demo: 365).
    const demo = JSON.parse(readFileSync('resources/demo-program.json', 'utf8'));
    const checked = validateProgram({ ...demo, version: 2, expiry: { burnAfterInactiveDays: 30 } });
    if (!checked.ok) throw new Error('program');
    const day = 86_400_000;
    const ledger = new Ledger({ path: seeded });
    try {
      const published = new Date().toISOString();
      ledger.sqlite.transaction(() => ledger.keepHqProgram({ program: checked.program, hash: checked.hash, hqSeq: 1, activeFrom: new Date(Date.now() + day).toISOString() }, published))();
      expect(ledger.programInForce(published)).not.toBe(checked.hash);
    } finally {
      ledger.close();
    }
    const jobs = loyalty(['jobs', 'run', '--db', seeded, '--now', new Date(Date.now() + 60 * day).toISOString()]);
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(jobs.json()).toMatchObject({ program: { id: 'demo', version: 2 } });
    expect(jobs.json().burnedCardholders).toBeGreaterThan(0);
    expect(loyalty(['db', 'verify', '--db', seeded]).json()).toMatchObject({ ok: true });
  });
});
