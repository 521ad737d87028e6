// Framing of the typed API over the browser host's WebSocket: the renderer sends calls, the host
// answers each by id and pushes terminal events.
import { z } from 'zod';
import type { ApiError, ApiResult, TerminalEvent } from './api';

const callMessage = z.object({ id: z.number().int(), method: z.string().max(64), input: z.unknown() });
export type HostCall = z.infer<typeof callMessage>;

export type HostReply = { kind: 'result'; id: number | null; result: ApiResult<unknown> } | { kind: 'event'; event: TerminalEvent };

export function hostMessage(text: string): { ok: true; value: HostCall } | { ok: false; error: ApiError } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, error: { code: 'bad_message', message: 'Not JSON', messageRu: 'Сообщение не в формате JSON' } };
  }
  const parsed = callMessage.safeParse(data);
  if (!parsed.success) return { ok: false, error: { code: 'bad_message', message: 'Expected {id, method, input}', messageRu: 'Неверный формат сообщения' } };
  return { ok: true, value: parsed.data };
}
