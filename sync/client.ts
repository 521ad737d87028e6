// HTTP to HQ: every request signed (protocol/sync.ts), bodies gzip-compressed, a hard timeout.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { signatureBase, type AllowancesResponse, type PullResponse, type PushResponse, type SaleElsewhere } from '../protocol/sync';
import type { PendingOp } from './store';
import type { TerminalKey } from './keys';

/** A request body that is JSON already. */
class RawJson {
  constructor(readonly bytes: Buffer<ArrayBuffer>) {}
}
const CLOSE = Buffer.from('}');

export class SyncHttpError extends Error {
  constructor(
    readonly status: number | null,
    message: string,
    /** HQ's reason code, when its answer gave one. */
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export class HqClient {
  constructor(
    readonly baseUrl: string,
    private readonly terminalId: string,
    private readonly key: TerminalKey,
    private readonly timeoutMs = 15_000,
  ) {}

  async register(code: string): Promise<{ terminalId: string; storeId: string }> {
    return this.request('POST', '/v1/register', { code, terminalId: this.terminalId, publicKey: this.key.publicKey }, false);
  }

  /** The body is assembled from the stored payloads' bytes: no parse, re-serialise or re-encode of each. */
  push(ops: PendingOp[], pending: number, oldestPendingAt: string | null): Promise<PushResponse> {
    const s = JSON.stringify;
    const parts: Buffer[] = [Buffer.from(`{"pending":${pending},"oldestPendingAt":${s(oldestPendingAt)},"ops":[`)];
    ops.forEach((o, i) => {
      parts.push(Buffer.from(`${i ? ',' : ''}{"seq":${o.seq},"opId":${s(o.opId)},"kind":${s(o.kind)},"createdAt":${s(o.createdAt)},"payload":`), o.payloadJson, CLOSE);
    });
    parts.push(Buffer.from(']}'));
    return this.request('POST', '/v1/push', new RawJson(Buffer.concat(parts)));
  }

  /** Asked at the till while the customer waits: a short timeout, then the offline rules apply. */
  redeemCheck(cardholderId: string): Promise<{ available: number }> {
    return this.request('POST', '/v1/redeem-check', { cardholderId }, true, Math.min(this.timeoutMs, 2000));
  }

  allowances(cardholderIds: string[]): Promise<AllowancesResponse> {
    return this.request('POST', '/v1/allowances', { cardholderIds });
  }

  /** A sale made on another terminal, to be returned here (404: none in the chain; 409: not returnable here). */
  saleForReturn(number: string): Promise<SaleElsewhere> {
    return this.request('POST', '/v1/sale-for-return', { number });
  }

  /** A page of HQ's feed; `program`: the hash of the program this terminal prices with, for HQ's view of its terminals. */
  pull(cursor: number, limit: number, program: string | null = null): Promise<PullResponse> {
    return this.request('GET', `/v1/pull?cursor=${cursor}&limit=${limit}${program ? `&program=${program}` : ''}`);
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, signed = true, timeoutMs = this.timeoutMs): Promise<T> {
    const json: Buffer<ArrayBuffer> = body === undefined ? Buffer.alloc(0) : body instanceof RawJson ? body.bytes : Buffer.from(JSON.stringify(body));
    const payload = json.length > 1024 ? gzipSync(json, { level: 1 }) : json;
    const headers: Record<string, string> = { 'accept-encoding': 'gzip' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      if (payload !== json) headers['content-encoding'] = 'gzip';
    }
    if (signed) {
      const timestamp = new Date().toISOString();
      const nonce = randomBytes(18).toString('base64url');
      const digest = createHash('sha256').update(payload).digest('hex');
      Object.assign(headers, { 'x-terminal-id': this.terminalId, 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': this.key.sign(signatureBase(method, path, timestamp, nonce, digest)) });
    }
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), { method, headers, body: body === undefined ? undefined : payload, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new SyncHttpError(null, `HQ unreachable: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) throw new SyncHttpError(res.status, `HQ answered ${res.status}: ${text.slice(0, 200)}`, errorCode(text));
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SyncHttpError(res.status, 'HQ answered with unreadable JSON');
    }
  }
}

function errorCode(body: string): string | null {
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}
