// HQ's HTTP API (Fastify). Bodies may be gzip-compressed; the signature covers the bytes sent.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { gunzipSync, gzipSync } from 'node:zlib';
import { allowancesRequest, pushRequest, registerRequest } from '../protocol/sync';
import { HqError, programVersionOf, type Caller, type HqService } from './service';
import { dashboardRoutes } from './dashboard-routes';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

export interface ServerOptions {
  logger?: boolean | object;
  adminToken?: string;
  /** Where the built dashboard page is (default dist/hq-dashboard). */
  dashboardDir?: string;
}

export function buildServer(service: HqService, opts: ServerOptions = {}): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 64 * 1024 * 1024 });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    req.rawBody = body;
    try {
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzip(body) : body).toString('utf8');
      done(null, text.length ? JSON.parse(text) : {});
    } catch (e) {
      done(Object.assign(new Error(`unreadable body: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err instanceof HqError ? err.status : (err.statusCode ?? 500);
    if (status >= 500) req.log.error({ err }, 'request failed');
    reply.code(status).send({ error: status >= 500 ? 'internal error' : err.message, ...(err instanceof HqError && err.code ? { code: err.code } : {}) });
  });

  const auth = async (req: FastifyRequest): Promise<Caller> =>
    service.authenticate({
      terminalId: header(req, 'x-terminal-id'),
      timestamp: header(req, 'x-timestamp'),
      nonce: header(req, 'x-nonce'),
      signature: header(req, 'x-signature'),
      method: req.method,
      path: req.url,
      body: req.rawBody ?? Buffer.alloc(0),
    });

  app.get('/v1/health', async () => ({ ok: true, db: service.db.kind }));

  app.post('/v1/register', async (req, reply) => {
    const input = registerRequest.safeParse(req.body);
    if (!input.success) throw new HqError(400, `register: ${input.error.issues[0]?.path.join('.')} ${input.error.issues[0]?.message}`);
    reply.code(201);
    return service.register(input.data);
  });

  app.post('/v1/push', async (req) => {
    const caller = await auth(req);
    const input = pushRequest.safeParse(req.body);
    if (!input.success) throw new HqError(400, `push: ${input.error.issues[0]?.path.join('.')} ${input.error.issues[0]?.message}`);
    return service.push(caller, input.data.ops, { pending: input.data.pending, oldestPendingAt: input.data.oldestPendingAt });
  });

  app.get('/v1/pull', async (req, reply) => {
    const caller = await auth(req);
    const q = req.query as { cursor?: string; limit?: string; program?: string };
    const cursor = Number(q.cursor ?? 0);
    const limit = Math.min(Math.max(Number(q.limit ?? 5000), 1), 50_000);
    if (!Number.isSafeInteger(cursor) || cursor < 0 || !Number.isInteger(limit)) throw new HqError(400, 'cursor and limit must be whole numbers');
    if (q.program !== undefined && !/^[0-9a-f]{64}$/.test(q.program)) throw new HqError(400, 'program must be a program hash (64 hex digits)');
    const page = await service.pull(caller, cursor, limit, q.program ?? null);
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      reply.header('content-encoding', 'gzip').header('content-type', 'application/json');
      return reply.send(gzipSync(JSON.stringify(page)));
    }
    return page;
  });

  app.post('/v1/allowances', async (req) => {
    const caller = await auth(req);
    const input = allowancesRequest.safeParse(req.body);
    if (!input.success) throw new HqError(400, `allowances: ${input.error.issues[0]?.path.join('.')} ${input.error.issues[0]?.message}`);
    return service.grantAllowances(caller, input.data.cardholderIds);
  });

  app.post('/v1/redeem-check', async (req) => {
    const caller = await auth(req);
    const body = (req.body ?? {}) as { cardholderId?: unknown };
    if (typeof body.cardholderId !== 'string' || !body.cardholderId) throw new HqError(400, 'cardholderId is required');
    return { available: await service.allowances.available(caller.terminalId, body.cardholderId) };
  });

  app.post('/v1/sale-for-return', async (req) => {
    const caller = await auth(req);
    const body = (req.body ?? {}) as { number?: unknown };
    if (typeof body.number !== 'string' || !body.number || body.number.length > 64) throw new HqError(400, 'number is required');
    return service.saleForReturn(caller, body.number);
  });

  app.get('/v1/admin/integrity', async (req) => {
    if (!opts.adminToken || header(req, 'x-admin-token') !== opts.adminToken) throw new HqError(401, 'admin token required');
    return { quarantine: await service.integrityReport(), overdrafts: await service.allowances.report(), overReturns: await service.overReturns() };
  });

  app.post('/v1/admin/codes', async (req, reply) => {
    if (!opts.adminToken || header(req, 'x-admin-token') !== opts.adminToken) throw new HqError(401, 'admin token required');
    const body = req.body as { storeId?: unknown };
    if (typeof body?.storeId !== 'string' || !body.storeId) throw new HqError(400, 'storeId is required');
    reply.code(201);
    return { code: await service.createRegistrationCode(body.storeId) };
  });

  // Loyalty programs: a version published here reaches every terminal through the feed, in force
  // from ?activeFrom= (at once without it).
  app.post('/v1/admin/programs', async (req, reply) => {
    if (!opts.adminToken || header(req, 'x-admin-token') !== opts.adminToken) throw new HqError(401, 'admin token required');
    const published = await service.publishProgram(req.body, req.query as { activeFrom?: string });
    reply.code(published.published ? 201 : 200);
    return published;
  });

  // A version whose moment has not come, withdrawn: body {id, version}.
  app.post('/v1/admin/programs/withdraw', async (req) => {
    if (!opts.adminToken || header(req, 'x-admin-token') !== opts.adminToken) throw new HqError(401, 'admin token required');
    return service.withdrawProgram(...programVersionOf(req.body));
  });

  app.get('/v1/admin/programs', async (req) => {
    if (!opts.adminToken || header(req, 'x-admin-token') !== opts.adminToken) throw new HqError(401, 'admin token required');
    return service.programs();
  });

  app.get('/v1/admin/terminals', async (req) => {
    if (!opts.adminToken || header(req, 'x-admin-token') !== opts.adminToken) throw new HqError(401, 'admin token required');
    return service.terminalsHealth();
  });

  dashboardRoutes(app, service, opts.dashboardDir);
  return app;
}

const MAX_BODY = 256 * 1024 * 1024;

/** Inflated into one buffer of the size the gzip trailer gives (no chunks to join), within MAX_BODY. */
function gunzip(body: Buffer): Buffer {
  const size = body.length >= 18 ? body.readUInt32LE(body.length - 4) : 0;
  return gunzipSync(body, { maxOutputLength: MAX_BODY, chunkSize: Math.min(Math.max(size + 1, 64 * 1024), MAX_BODY) });
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
