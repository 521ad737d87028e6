// Programs come from HQ (SPEC §1, §6): HQ publishes a version once, every terminal pulls it with
// its feed, and the next sale on a till is priced by it. HQ refuses a version it cannot take, and
// a terminal that cannot validate a version keeps the program it has and says why. Terminals and
// HQ over real HTTP (embedded PostgreSQL, or the real server with DATABASE_URL).
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Terminal } from './terminal';
import { ok, tempDirs } from './testkit';
import { silentLogger } from './log';
import { createUser } from '../db/admin';
import { startTestHq, type TestHq } from '../hq/testing';
import { buildServer } from '../hq/server';
import { HqError } from '../hq/service';
import { sql } from '../hq/db';
import { SyncStore } from '../sync/store';
import { validateProgram } from '../engine';

const dirs = tempDirs('programs-');

const CARD = '7789000000019';
const milk = { sku: 'MILK-1L', name: 'Молоко', category: 'dairy', qty: 2, unitPrice: 8990 };
const demo = () => JSON.parse(readFileSync('resources/demo-program.json', 'utf8')) as { version: number; name: string; earn: { percent: number } };
/** The demo program at another version, earning another percent. */
const demoAt = (version: number, percent: number) => ({ ...demo(), version, name: `Копилка v${version}`, earn: { ...demo().earn, percent } });

async function till(hq: TestHq, opts: { demo: boolean; dir?: string; programFile?: string; clock?: () => Date }): Promise<Terminal> {
  const dir = opts.dir ?? dirs.make();
  const fresh = !opts.dir;
  const t = await Terminal.start({
    dataDir: dir,
    readers: [],
    demo: opts.demo && fresh,
    hqUrl: hq.url,
    ...(fresh ? { hqCode: await hq.service.createRegistrationCode('store-1') } : {}),
    ...(opts.programFile ? { programFile: opts.programFile } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    logger: silentLogger,
  });
  if (!opts.demo && fresh) createUser(t.ledger, 'Кассир Борис', 'cashier', '1111', new Date().toISOString());
  ok(await t.api.call('login', { pin: '1111' }));
  if (fresh) ok(await t.api.call('openShift', {}));
  return t;
}

const programOf = async (t: Terminal) => ok(await t.api.call('status', {})).program!;
/** What HQ knows of the program a terminal prices with (reported as it pulls). */
const programAtHq = async (hq: TestHq, t: Terminal) => {
  const row = (await hq.service.terminalsHealth()).find((r) => r.terminal_id === t.ledger.terminalId)!;
  return { hash: row.program_hash, id: row.program_id, version: row.program_version, inForce: row.program_in_force };
};

describe('programs from HQ', () => {
  it('a version HQ publishes reaches every terminal through the feed and prices the next sale; a restart with an old file keeps it', async () => {
    const hq = await startTestHq();
    const a = await till(hq, { demo: true });
    try {
      const card = ok(await a.api.call('identify', { query: CARD }));
      ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] })); // the first purchase (welcome bonus)
      const before = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] }));
      expect(before.priced.program.version).toBe(1);
      expect(await programOf(a)).toMatchObject({ id: 'demo', version: 1, source: 'demo', refused: null });
      // HQ hears which program each terminal prices with as it pulls: here the demo's, which HQ did not publish.
      await a.sync!.syncOnce();
      expect(await programAtHq(hq, a)).toEqual({ hash: before.priced.program.hash, id: null, version: null, inForce: null });

      const v2 = await hq.service.publishProgram(demoAt(2, 10));
      expect(v2).toMatchObject({ id: 'demo', version: 2, published: true });
      // Not yet pulled: the till still prices with version 1.
      expect(ok(await a.api.call('price', { cardId: card.cardId, lines: [milk] })).program.version).toBe(1);

      await a.sync!.syncOnce();
      expect(await programOf(a)).toMatchObject({ id: 'demo', version: 2, name: 'Копилка v2', hash: v2.hash, source: 'hq', refused: null });
      const after = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] }));
      expect(after.priced.program).toMatchObject({ id: 'demo', version: 2, hash: v2.hash });
      // 10% in place of 5% of the same line at the same discount tier: twice the points (each rounded down).
      const earned = (s: typeof before) => s.priced.lines[0]!.pointsEarned;
      expect(earned(before)).toBeGreaterThan(0);
      expect([2 * earned(before), 2 * earned(before) + 1]).toContain(earned(after));
      await a.sync!.syncOnce();
      expect(await programAtHq(hq, a)).toEqual({ hash: v2.hash, id: 'demo', version: 2, inForce: true });
      const [atHq] = await hq.db.rows<{ program_version: number; program_hash: string }>(sql`SELECT program_version, program_hash FROM receipts WHERE id = ${after.receiptId}`);
      expect(atHq).toMatchObject({ program_version: 2, program_hash: v2.hash });

      // A terminal that joins later gets the version in force with its first pull.
      const b = await till(hq, { demo: false });
      try {
        expect(await programOf(b)).toMatchObject({ version: 1, source: 'demo' });
        await b.sync!.syncOnce();
        expect(await programOf(b)).toMatchObject({ version: 2, hash: v2.hash, source: 'hq' });
      } finally {
        await b.close();
      }

      // A restart with the file it ran before HQ's version: HQ's stays (the feed will not bring it again) ...
      const dir = dirs.made[0]!; // a's
      const v1File = join(dir, 'v1.json');
      writeFileSync(v1File, JSON.stringify(demo()));
      await a.close();
      const restarted = await till(hq, { demo: true, dir, programFile: v1File });
      expect(await programOf(restarted)).toMatchObject({ version: 2, source: 'hq' });
      await restarted.close();
      // ... until that file was never in force here: a new file is the operator's word.
      const v3File = join(dir, 'v3.json');
      writeFileSync(v3File, JSON.stringify(demoAt(3, 7)));
      const withFile = await till(hq, { demo: true, dir, programFile: v3File });
      expect(await programOf(withFile)).toMatchObject({ version: 3, source: 'file' });
      await withFile.close();
    } finally {
      await hq.destroy();
    }
  });

  it('a version published for a later moment comes into force then on a terminal that has it, offline too; one published after it for an earlier moment replaces it', async () => {
    const hq = await startTestHq();
    let now = Date.now();
    const hour = 3600_000;
    const a = await till(hq, { demo: true, clock: () => new Date(now) });
    try {
      const card = ok(await a.api.call('identify', { query: CARD }));
      await hq.service.publishProgram(demoAt(2, 10), { activeFrom: new Date(now + 2 * hour).toISOString() });
      const v3 = await hq.service.publishProgram(demoAt(3, 8), { activeFrom: new Date(now + hour).toISOString() });
      expect((await hq.service.programs()).map((p) => [p.version, p.state])).toEqual([[3, 'to come'], [2, 'replaced']]);
      await a.sync!.syncOnce();
      // Pulled, not yet in force: the till prices with version 1 and says what comes next, and when.
      expect(await programOf(a)).toMatchObject({ version: 1, next: { id: 'demo', version: 3, name: 'Копилка v3', activeFrom: v3.activeFrom } });
      expect(ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] })).priced.program.version).toBe(1);

      await hq.stop(); // offline from here on
      now += hour + 1000;
      const sale = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] }));
      expect(sale.priced.program).toMatchObject({ version: 3, hash: v3.hash });
      expect(await programOf(a)).toMatchObject({ version: 3, source: 'hq', next: null });
      // Version 2's moment comes too, but version 3 was published after it: 3 stays.
      now += 2 * hour;
      expect(ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] })).priced.program.version).toBe(3);
      await hq.start();
      const refusal = await hq.service.publishProgram(demoAt(4, 8), { activeFrom: 'next monday' }).catch((e: unknown) => e);
      expect(refusal).toMatchObject({ status: 400, message: expect.stringMatching(/activeFrom must be a date and time/) });
    } finally {
      await a.close();
      await hq.destroy();
    }
  });

  it('a version withdrawn before its moment never comes into force: terminals that pulled it drop it, and one whose clock ran ahead goes back', async () => {
    const hq = await startTestHq();
    const hour = 3600_000;
    const now = Date.now();
    const a = await till(hq, { demo: true });
    const ahead = await till(hq, { demo: true, clock: () => new Date(now + 2 * hour) }); // its clock runs two hours fast
    try {
      const v2 = await hq.service.publishProgram(demoAt(2, 10));
      const v3 = await hq.service.publishProgram(demoAt(3, 8), { activeFrom: new Date(now + hour).toISOString() });
      await a.sync!.syncOnce();
      await ahead.sync!.syncOnce();
      expect(await programOf(a)).toMatchObject({ version: 2, next: { version: 3 } });
      const aheadCard = ok(await ahead.api.call('identify', { query: CARD }));
      expect(ok(await ahead.api.call('price', { cardId: aheadCard.cardId, lines: [milk] })).program).toMatchObject({ version: 3, hash: v3.hash });

      const withdrawn = await hq.service.withdrawProgram('demo', 3);
      expect(withdrawn).toMatchObject({ id: 'demo', version: 3, withdrawn: true, withdrawnAt: expect.any(String) });
      expect(withdrawn.hqSeq).toBeGreaterThan(v3.hqSeq); // a new place in the feed, after what the terminals have pulled
      expect(await hq.service.withdrawProgram('demo', 3)).toMatchObject({ withdrawn: false });
      expect((await hq.service.programs()).map((p) => [p.version, p.state])).toEqual([[3, 'withdrawn'], [2, 'in force']]);
      const refused = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);
      expect(await refused(hq.service.withdrawProgram('demo', 2))).toMatchObject({ status: 409, code: 'program_in_force', message: expect.stringMatching(/in force since .*publish a new version/) });
      expect(await refused(hq.service.withdrawProgram('demo', 9))).toMatchObject({ status: 404, code: 'program_unknown' });
      expect(await refused(hq.service.publishProgram(demoAt(3, 8)))).toMatchObject({ status: 409, message: expect.stringMatching(/version 3 of program demo was withdrawn: publish it as version 4/) });

      await a.sync!.syncOnce();
      expect(await programOf(a)).toMatchObject({ version: 2, hash: v2.hash, next: null });
      expect(a.ledger.programVersion('demo', 3)).toBeNull();
      await ahead.sync!.syncOnce();
      const back = ok(await ahead.api.call('checkout', { cardId: aheadCard.cardId, lines: [milk] }));
      expect(back.priced.program).toMatchObject({ version: 2, hash: v2.hash });
      expect(await programOf(ahead)).toMatchObject({ version: 2, source: 'hq', next: null });

      // Over HTTP, with HQ's admin token.
      const app = buildServer(hq.service, { adminToken: 'admin-secret' });
      try {
        const withdraw = (body: unknown, token = 'admin-secret') => app.inject({ method: 'POST', url: '/v1/admin/programs/withdraw', headers: { 'x-admin-token': token }, payload: body as object });
        await hq.service.publishProgram(demoAt(4, 8), { activeFrom: new Date(now + hour).toISOString() });
        expect((await withdraw({ id: 'demo', version: 4 }, 'wrong')).statusCode).toBe(401);
        const bad = await withdraw({ id: 'demo', version: 'four' });
        expect(bad.statusCode).toBe(400);
        expect(bad.json().error).toMatch(/"version": <a whole number from 1>/);
        const done = await withdraw({ id: 'demo', version: 4 });
        expect(done.statusCode).toBe(200);
        expect(done.json()).toMatchObject({ version: 4, withdrawn: true });
      } finally {
        await app.close();
      }
    } finally {
      await a.close();
      await ahead.close();
      await hq.destroy();
    }
  });

  it('HQ takes each version once, and refuses an invalid program, other content under a published version, and an older version', async () => {
    const hq = await startTestHq();
    try {
      const refusal = async (json: unknown) => {
        const e = await hq.service.publishProgram(json).then(() => null, (err: unknown) => err);
        expect(e).toBeInstanceOf(HqError);
        return e as HqError;
      };
      const v2 = await hq.service.publishProgram(demoAt(2, 10));
      expect(await hq.service.publishProgram(demoAt(2, 10))).toEqual({ ...v2, published: false });
      expect(await refusal(demoAt(2, 12))).toMatchObject({ status: 409, code: 'program_version_taken', message: expect.stringMatching(/version 2 of program demo is already published with other content: publish the change as version 3/) });
      expect(await refusal(demoAt(1, 12))).toMatchObject({ status: 409, code: 'program_version_old', message: expect.stringMatching(/at version 2/) });
      const invalid = await refusal({ ...demoAt(3, 10), earn: { ...demo().earn, percent: -5 } });
      expect(invalid).toMatchObject({ status: 400, code: 'program_invalid' });
      expect(invalid.message).toMatch(/earn\.percent/);
      // Nothing refused was kept: the feed has version 2 alone.
      expect((await hq.service.programs()).map((p) => [p.id, p.version])).toEqual([['demo', 2]]);

      // Over HTTP, with HQ's admin token.
      const app = buildServer(hq.service, { adminToken: 'admin-secret' });
      try {
        const post = (body: unknown, token = 'admin-secret') => app.inject({ method: 'POST', url: '/v1/admin/programs', headers: { 'x-admin-token': token }, payload: body as object });
        expect((await post(demoAt(3, 8), 'wrong')).statusCode).toBe(401);
        const created = await post(demoAt(3, 8));
        expect(created.statusCode).toBe(201);
        expect(created.json()).toMatchObject({ id: 'demo', version: 3, published: true });
        expect((await post(demoAt(3, 8))).statusCode).toBe(200);
        const bad = await post({ ...demoAt(4, 8), stacking: 'sometimes' });
        expect(bad.statusCode).toBe(400);
        expect(JSON.stringify(bad.json())).toMatch(/stacking/);
        const listed = await app.inject({ method: 'GET', url: '/v1/admin/programs', headers: { 'x-admin-token': 'admin-secret' } });
        expect((listed.json() as { version: number }[]).map((p) => p.version)).toEqual([3, 2]);
      } finally {
        await app.close();
      }
    } finally {
      await hq.destroy();
    }
  });

  it('a payment is refused, and nothing written, when the price is not the one the screen showed', async () => {
    const t = await Terminal.start({ dataDir: dirs.make(), readers: [], demo: true, logger: silentLogger });
    try {
      ok(await t.api.call('login', { pin: '1111' }));
      ok(await t.api.call('openShift', {}));
      const card = ok(await t.api.call('identify', { query: CARD }));
      const basket = { cardId: card.cardId, lines: [milk] };
      const priced = ok(await t.api.call('price', basket));
      const shown = { toPay: priced.totals.toPay, pointsRedeemed: priced.totals.pointsRedeemed, pointsEarned: priced.totals.pointsEarned, programHash: priced.program.hash };
      const receipts = () => t.ledger.sqlite.prepare('SELECT count(*) FROM receipts').pluck().get() as number;
      const before = receipts();
      const refusal = await t.api.call('checkout', { ...basket, shown: { ...shown, toPay: shown.toPay - 1 } });
      expect(refusal).toMatchObject({ ok: false, error: { code: 'price_changed', message: expect.stringMatching(/^The price changed since it was shown: nothing was charged/) } });
      expect(receipts()).toBe(before);
      expect(ok(await t.api.call('checkout', { ...basket, shown })).priced.totals.toPay).toBe(shown.toPay);
      expect(receipts()).toBe(before + 1);
    } finally {
      await t.close();
    }
  });

  it('a version the terminal cannot validate is refused there: the tills keep their program, the status says why, the feed moves on', async () => {
    const dir = dirs.make();
    const t = await Terminal.start({ dataDir: dir, readers: [], demo: true, logger: silentLogger });
    try {
      const store = new SyncStore(t.ledger);
      const at = new Date().toISOString();
      const page = (hqSeq: number, definition: unknown, hash: string) => ({ cursor: hqSeq, more: false, entries: [], cards: [], programs: [{ hqSeq, id: 'demo', version: 2, hash, definition, publishedAt: at, activeFrom: at }] });
      store.applyPull(page(5, { ...demoAt(2, 10), earn: { ...demo().earn, mode: 'lottery' } }, 'f'.repeat(64)));
      expect(store.cursor()).toBe(5);
      const kept = await programOf(t);
      expect(kept).toMatchObject({ version: 1, source: 'demo' });
      expect(kept.refused).toMatch(/HQ's program demo version 2 does not validate on this terminal \(earn.*\); the tills keep the program they had/);
      // Valid, but not what HQ validated (a hash of its own): refused too.
      store.applyPull(page(6, demoAt(2, 10), 'f'.repeat(64)));
      expect((await programOf(t)).refused).toMatch(/its hash here is [0-9a-f]{64}, at HQ f{64}/);
      expect((await programOf(t)).version).toBe(1);
      // No moment to come into force: refused too, and the feed does not stall on it.
      const v2 = validateProgram(demoAt(2, 10));
      if (!v2.ok) throw new Error('v2');
      store.applyPull({ ...page(7, demoAt(2, 10), v2.hash), programs: [{ ...page(7, demoAt(2, 10), v2.hash).programs[0]!, activeFrom: 'soon' }] });
      expect(store.cursor()).toBe(7);
      expect(await programOf(t)).toMatchObject({ version: 1, refused: expect.stringMatching(/no moment to come into force: soon/) });
      // The same version, sound: in force, and the refusal is gone.
      store.applyPull(page(8, demoAt(2, 10), v2.hash));
      expect(await programOf(t)).toMatchObject({ version: 2, source: 'hq', refused: null });
    } finally {
      await t.close();
    }
  });
});
