// Small pieces every screen uses: a message in the screen's language, reasons, and a call helper
// that keeps the last error beside the form that caused it.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiError, ApiInput, ApiMethod, ApiOutputs, Reason } from '../../protocol/api';
import { api } from './transport';

export function Message({ error, testId = 'error' }: { error: ApiError | null; testId?: string }) {
  const { i18n } = useTranslation();
  if (!error) return null;
  return (
    <div className="error" role="alert" data-testid={testId}>
      {i18n.language === 'en' ? error.message : error.messageRu}
    </div>
  );
}

export function ReasonList({ reasons }: { reasons: Reason[] }) {
  const { i18n } = useTranslation();
  if (!reasons.length) return null;
  return (
    <ul className="reasons">
      {reasons.map((r, i) => (
        <li key={i} data-testid="reason">
          {i18n.language === 'en' ? r.en : r.ru}
        </li>
      ))}
    </ul>
  );
}

/** One API call at a time per form, its error kept for the form to show. */
export function useCall() {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  async function call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutputs[M] | null> {
    setBusy(true);
    try {
      const r = await api.call(method, input);
      setError(r.ok ? null : r.error);
      return r.ok ? r.value : null;
    } finally {
      setBusy(false);
    }
  }
  return { call, error, setError, busy };
}
