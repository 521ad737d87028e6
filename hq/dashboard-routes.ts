// The HQ dashboard: the built page (dist/hq-dashboard) and its JSON/CSV API, behind HQ login.
// A login sets an HttpOnly, SameSite=Strict session cookie; sessions live in memory for 8 hours.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { hashPin, pinMatches } from '../db/admin';
import { sql } from './db';
import { beforeAfter, computeFigures, revenuePerParticipant, rfm, type FigureQuery } from './figures';
import { HqError, programVersionOf, type HqService } from './service';

const SESSION_MS = 8 * 3600_000;
const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** A dashboard user (HQ analysts); the password is kept as a slow scrypt hash. */
export async function addDashboardUser(service: HqService, name: string, password: string) {
  if (!name.trim() || password.length < 4) throw new Error('a dashboard user needs a name and a password of at least 4 characters');
  await service.db.rows(
    sql`INSERT INTO hq_settings (key, value) VALUES (${'dashboard_user:' + name.trim()}, ${hashPin(password)}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
  );
}

/** Rows as CSV (RFC 4180 quoting), columns from the first row. */
export function toCsv(rows: Record<string, unknown>[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export function dashboardRoutes(app: FastifyInstance, service: HqService, dir = resolve('dist/hq-dashboard')) {
  const sessions = new Map<string, { user: string; until: number }>();
  const cookie = (req: FastifyRequest) => /(?:^|;\s*)hq_session=([A-Za-z0-9_-]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
  const requireUser = (req: FastifyRequest) => {
    const token = cookie(req);
    const s = token ? sessions.get(token) : undefined;
    if (!s || s.until < Date.now()) throw new HqError(401, 'log in to the HQ dashboard');
    return s.user;
  };
  const period = (req: FastifyRequest): FigureQuery => {
    const q = req.query as Record<string, string | undefined>;
    const to = q.to ?? new Date().toISOString();
    const from = q.from ?? new Date(Date.parse(to) - 365 * 86_400_000).toISOString();
    if (Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to)) || from >= to) throw new HqError(400, 'from and to must be dates with from before to');
    const churnDays = q.churnDays ? Number(q.churnDays) : undefined;
    if (churnDays !== undefined && !(Number.isInteger(churnDays) && churnDays > 0)) throw new HqError(400, 'churnDays must be a whole number of days');
    return { from, to, storeId: q.store || null, ...(churnDays ? { churnDays } : {}) };
  };
  /** A table as JSON, or as CSV with ?format=csv. */
  const table = (req: FastifyRequest, reply: FastifyReply, name: string, rows: Record<string, unknown>[]) => {
    if ((req.query as { format?: string }).format !== 'csv') return rows;
    return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(toCsv(rows));
  };

  app.post('/v1/dashboard/login', async (req, reply) => {
    const { user, password } = (req.body ?? {}) as { user?: unknown; password?: unknown };
    if (typeof user !== 'string' || typeof password !== 'string') throw new HqError(400, 'user and password are required');
    const [row] = await service.db.rows<{ value: string }>(sql`SELECT value FROM hq_settings WHERE key = ${'dashboard_user:' + user}`);
    if (!row || !pinMatches(password, row.value)) throw new HqError(401, 'wrong user or password');
    const token = randomBytes(24).toString('base64url');
    sessions.set(token, { user, until: Date.now() + SESSION_MS });
    reply.header('set-cookie', `hq_session=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`);
    return { user };
  });
  app.post('/v1/dashboard/logout', async (req, reply) => {
    const token = cookie(req);
    if (token) sessions.delete(token);
    reply.header('set-cookie', 'hq_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
    return { ok: true };
  });
  app.get('/v1/dashboard/me', async (req) => ({ user: requireUser(req) }));
  app.get('/v1/dashboard/stores', async (req) => {
    requireUser(req);
    return service.db.rows(sql`SELECT id, name FROM stores ORDER BY length(id), id`);
  });
  app.get('/v1/dashboard/summary', async (req, reply) => {
    requireUser(req);
    const f = await computeFigures(service.db, period(req));
    const { inactivity, nps, period: p, ...flat } = f;
    if ((req.query as { format?: string }).format === 'csv') {
      const rows = [...Object.entries(flat).map(([figure, value]) => ({ figure, value })), ...Object.entries(nps).map(([k, value]) => ({ figure: `nps.${k}`, value })), ...inactivity.map((b) => ({ figure: `inactive ${b.bucket} days`, value: b.participants }))];
      return table(req, reply, 'summary', rows);
    }
    return { ...f, period: p };
  });
  app.get('/v1/dashboard/monthly', async (req, reply) => {
    requireUser(req);
    const p = period(req);
    const months: Record<string, unknown>[] = [];
    const start = new Date(p.from);
    for (let m = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1)); m.getTime() < Date.parse(p.to); m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1))) {
      const end = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1));
      const f = await computeFigures(service.db, { ...p, from: m.toISOString(), to: end.toISOString() });
      months.push({
        month: m.toISOString().slice(0, 7),
        attractionRatio: f.attractionRatio,
        activityRatio: f.activityRatio,
        churnRate: f.churnRate,
        redemptionRatio: f.redemptionRatio,
        burnRatio: f.burnRatio,
        participantRevenueShare: f.participantRevenueShare,
        top20RevenueShare: f.top20RevenueShare,
        refusalShare: f.refusalShare,
        avgReceiptWithCard: f.avgReceiptWithCard,
        avgReceiptWithoutCard: f.avgReceiptWithoutCard,
        nps: f.nps.score,
      });
    }
    return table(req, reply, 'monthly', months);
  });
  app.get('/v1/dashboard/revenue-per-participant', async (req, reply) => {
    requireUser(req);
    return table(req, reply, 'revenue-per-participant', await revenuePerParticipant(service.db, period(req)));
  });
  app.get('/v1/dashboard/rfm', async (req, reply) => {
    requireUser(req);
    return table(req, reply, 'rfm', await rfm(service.db, period(req)));
  });
  app.get('/v1/dashboard/before-after', async (req) => {
    requireUser(req);
    const q = req.query as { at?: string; days?: string; store?: string; format?: string };
    const days = Number(q.days ?? 90);
    // Without a date: the day the latest program version first priced a sale.
    const [change] = q.at
      ? [{ at: q.at }]
      : await service.db.rows<{ at: unknown }>(sql`SELECT min(created_at) AS at FROM receipts WHERE program_version = (SELECT max(program_version) FROM receipts) AND program_version > 1`);
    if (!change?.at) return { at: null, days, rows: [] };
    const at = new Date(change.at as string);
    if (Number.isNaN(at.getTime()) || !(Number.isInteger(days) && days > 0)) throw new HqError(400, 'at must be a date and days a whole number');
    const r = await beforeAfter(service.db, at.toISOString(), days, q.store || null);
    const rows = Object.keys(r.before).map((figure) => ({ figure, before: r.before[figure as keyof typeof r.before], after: r.after[figure as keyof typeof r.after] }));
    return { at: at.toISOString(), days, rows };
  });
  // The programs HQ has published, and publishing a new version (it reaches every terminal through the feed).
  app.get('/v1/dashboard/programs', async (req) => {
    requireUser(req);
    return (await service.programs()).map(({ definition, ...p }) => ({ ...p, name: (definition as { name?: unknown }).name ?? '' }));
  });
  app.post('/v1/dashboard/programs', async (req, reply) => {
    requireUser(req);
    const published = await service.publishProgram(req.body, req.query as { activeFrom?: string });
    reply.code(published.published ? 201 : 200);
    return published;
  });
  app.post('/v1/dashboard/programs/withdraw', async (req) => {
    requireUser(req);
    return service.withdrawProgram(...programVersionOf(req.body));
  });
  app.get('/v1/dashboard/terminals', async (req, reply) => {
    requireUser(req);
    return table(req, reply, 'terminals', (await service.terminalsHealth()) as Record<string, unknown>[]);
  });

  // The page itself (built by `npm run build:dashboard`).
  app.get('/*', async (req, reply) => {
    const path = (req.params as { '*': string })['*'] || 'index.html';
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir) || !existsSync(file)) {
      if (!existsSync(join(dir, 'index.html'))) return reply.code(404).send('The dashboard is not built: run `npm run build:dashboard`.');
      return reply.code(404).send('not found');
    }
    return reply
      .header('content-type', types[extname(file)] ?? 'application/octet-stream')
      .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
      .send(readFileSync(file));
  });
}
