// The screens beside the sale: login and shift, returns, the enrollment questionnaire, cardholder
// search with the profile and the admin's actions, and the shift report (Z-report).
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiInput, CardholderSummary, HolderInput, ProfileView, ReceiptView, ReturnView, ShiftReportView } from '../../protocol/api';
import { Message, ReasonList, useCall } from './common';
import { formatDate, formatMoney } from './i18n';
import { useSession } from './session';
import { useCheckout } from './store';

// ---- login and shift -------------------------------------------------------------------------

export function LoginScreen() {
  const { t } = useTranslation();
  const { session, login, openShift, error, logout } = useSession();
  const [pin, setPin] = useState('');
  if (session?.user) {
    return (
      <section className="login" data-testid="shift-closed">
        <h2>
          {session.user.name}: {t('noShift')}
        </h2>
        <Message error={error} />
        <button className="confirm" data-testid="open-shift" onClick={() => void openShift()} autoFocus>
          {t('openShift')} (F8)
        </button>
        <button onClick={() => void logout()}>{t('logout')}</button>
      </section>
    );
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await login(pin);
    setPin('');
  };
  return (
    <form className="login" onSubmit={submit} data-testid="login">
      <h2>{t('loginTitle')}</h2>
      <Message error={error} />
      <input data-testid="pin" type="password" inputMode="numeric" autoComplete="off" value={pin} onChange={(e) => setPin(e.target.value.replace(/\D/g, '').slice(0, 8))} placeholder="PIN" autoFocus />
      <button type="submit" className="confirm" data-testid="login-submit">
        {t('login')} (Enter)
      </button>
      <p className="hint">{t('demoPins')}</p>
    </form>
  );
}

// ---- returns ---------------------------------------------------------------------------------

export function ReturnScreen() {
  const { t } = useTranslation();
  const { call, error, busy } = useCall();
  const [query, setQuery] = useState('');
  const [receipt, setReceipt] = useState<ReceiptView | null>(null);
  const [qty, setQty] = useState<Record<number, number>>({});
  const [preview, setPreview] = useState<ReturnView | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const chosen = Object.entries(qty)
    .filter(([, q]) => q > 0)
    .map(([lineNo, q]) => ({ lineNo: Number(lineNo), qty: q }));
  const key = JSON.stringify(chosen);

  useEffect(() => {
    if (!receipt || !chosen.length) return setPreview(null);
    void call('previewReturn', { receiptId: receipt.id, lines: chosen }).then(setPreview);
  }, [key, receipt]);

  const find = async (e: FormEvent) => {
    e.preventDefault();
    const r = await call('findReceipt', { query });
    setReceipt(r);
    setQty({});
    setDone(null);
  };
  const confirm = async () => {
    if (!receipt || !chosen.length) return;
    const r = await call('commitReturn', { receiptId: receipt.id, lines: chosen });
    if (r) {
      setDone(r.receiptNumber);
      setReceipt(await call('findReceipt', { query: receipt.number }));
      setQty({});
    }
  };
  return (
    <section className="screen" data-testid="return-screen">
      <h2>{t('returnTitle')}</h2>
      <form onSubmit={find} className="row">
        <input data-testid="return-query" value={query} onChange={(e) => setQuery(e.target.value)} placeholder={t('receiptNumber')} autoFocus />
        <button type="submit">{t('find')}</button>
      </form>
      <Message error={error} testId="screen-error" />
      {done && (
        <p className="ok" data-testid="return-done">
          {t('returnDone', { number: done })}
        </p>
      )}
      {receipt && (
        <>
          <p>
            {t('receipt')} {receipt.number} · {formatDate(receipt.createdAt)} · {formatMoney(receipt.totals.toPay)}
            {receipt.customer && ` · ${receipt.customer.displayName} ${receipt.customer.maskedNumber}`}
            {receipt.madeElsewhere && <span data-testid="receipt-elsewhere">{` · ${t('madeElsewhere')}`}</span>}
          </p>
          <table className="basket">
            <thead>
              <tr>
                <th />
                <th>{t('sold')}</th>
                <th>{t('returned')}</th>
                <th>{t('toReturn')}</th>
              </tr>
            </thead>
            <tbody>
              {receipt.lines.map((l) => (
                <tr key={l.lineNo}>
                  <td>{l.name}</td>
                  <td>{l.qty}</td>
                  <td>{l.returned}</td>
                  <td>
                    <input
                      data-testid={`return-qty-${l.lineNo}`}
                      type="number"
                      min={0}
                      max={l.qty - l.returned}
                      value={qty[l.lineNo] ?? 0}
                      disabled={l.returned >= l.qty}
                      onChange={(e) => setQty({ ...qty, [l.lineNo]: Math.max(0, Math.trunc(Number(e.target.value)) || 0) })}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {preview && (
        <div data-testid="return-preview">
          <ReasonList reasons={preview.reasons} />
          <dl>
            <dt>{t('refund')}</dt>
            <dd data-testid="return-refund">{formatMoney(preview.totals.refund)}</dd>
            <dt>{t('pointsTakenBack')}</dt>
            <dd data-testid="return-taken">{preview.totals.pointsTakenBack}</dd>
            <dt>{t('pointsRestored')}</dt>
            <dd data-testid="return-restored">{preview.totals.pointsRestored}</dd>
          </dl>
          <button className="confirm" data-testid="return-confirm" disabled={busy} onClick={() => void confirm()}>
            {t('confirmReturn')}
          </button>
        </div>
      )}
    </section>
  );
}

// ---- enrollment ------------------------------------------------------------------------------

const fields: { name: keyof HolderInput; type?: string; options?: string[] }[] = [
  { name: 'surname' },
  { name: 'firstName' },
  { name: 'patronymic' },
  { name: 'phone', type: 'tel' },
  { name: 'email', type: 'email' },
  { name: 'birthDate', type: 'date' },
  { name: 'sex', options: ['male', 'female'] },
  { name: 'socialCategory', options: ['pensioner', 'student', 'disabled', 'large_family', 'military'] },
  { name: 'phoneHome', type: 'tel' },
  { name: 'phoneWork', type: 'tel' },
  { name: 'address' },
  { name: 'weddingDate', type: 'date' },
  { name: 'interests' },
  { name: 'contactChannel', options: ['sms', 'email', 'phone', 'none'] },
  { name: 'clientType', options: ['individual', 'corporate'] },
  { name: 'referrer' },
];

export function EnrollScreen() {
  const { t } = useTranslation();
  const { call, error, setError, busy } = useCall();
  const swiped = useSession((s) => s.swipedCard);
  const setSwiped = useSession((s) => s.setSwipedCard);
  const [holder, setHolder] = useState<Record<string, string>>({});
  const [consentPd, setConsentPd] = useState(false);
  const [consentMarketing, setConsentMarketing] = useState(false);
  const [cardNumber, setCardNumber] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const filled = fields.filter((f) => holder[f.name]?.trim()).length;
  const completeness = Math.round((filled / fields.length) * 100);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const clean = Object.fromEntries(Object.entries(holder).filter(([, v]) => v.trim() !== '')) as ApiInput<'enroll'>['holder'];
    const r = await call('enroll', { holder: clean, consentPd, consentMarketing, bindSwipedCard: !!swiped && !cardNumber, ...(cardNumber ? { cardNumber } : {}) });
    if (!r) return;
    setDone('maskedNumber' in r ? r.maskedNumber : 'enrollmentNo' in r ? r.enrollmentNo : '');
    if ('maskedNumber' in r) await useCheckout.getState().setCustomer(r);
    setHolder({});
    setCardNumber('');
    setSwiped(null);
  };
  const fieldError = (name: string) =>
    error?.field === `holder.${name}` || error?.field === name ? (
      <span className="field-error" data-testid={`err-${name}`}>
        {t('fieldInvalid')}
      </span>
    ) : null;
  return (
    <form className="screen enroll" onSubmit={submit} data-testid="enroll-screen" onChange={() => error && setError(null)}>
      <h2>{t('enrollTitle')}</h2>
      <p className="hint">{t('enrollHint')}</p>
      <div className="meter" data-testid="completeness" data-value={completeness}>
        <span style={{ width: `${completeness}%` }} />
        <em>
          {t('completeness')}: {completeness}%
        </em>
      </div>
      <Message error={error} testId="screen-error" />
      {done !== null && (
        <p className="ok" data-testid="enroll-done">
          {t('enrolled', { card: done })}
        </p>
      )}
      <div className="grid">
        {fields.map((f) => (
          <label key={f.name}>
            {t(`f_${f.name}`)}
            {f.options ? (
              <select data-testid={`f-${f.name}`} value={holder[f.name] ?? ''} onChange={(e) => setHolder({ ...holder, [f.name]: e.target.value })}>
                <option value="" />
                {f.options.map((o) => (
                  <option key={o} value={o}>
                    {t(`o_${o}`)}
                  </option>
                ))}
              </select>
            ) : (
              <input data-testid={`f-${f.name}`} type={f.type ?? 'text'} value={holder[f.name] ?? ''} onChange={(e) => setHolder({ ...holder, [f.name]: e.target.value })} />
            )}
            {fieldError(f.name)}
          </label>
        ))}
        <label>
          {t('cardToBind')}
          {swiped ? (
            <span data-testid="swiped-card" className="card-number">
              {swiped}
            </span>
          ) : (
            <input data-testid="f-cardNumber" inputMode="numeric" value={cardNumber} onChange={(e) => setCardNumber(e.target.value.replace(/\D/g, ''))} placeholder={t('swipeOrType')} />
          )}
          {fieldError('cardNumber')}
        </label>
      </div>
      <label className="consent">
        <input data-testid="consent-pd" type="checkbox" checked={consentPd} onChange={(e) => setConsentPd(e.target.checked)} /> {t('consentPd')}
      </label>
      {fieldError('consentPd')}
      <label className="consent">
        <input data-testid="consent-marketing" type="checkbox" checked={consentMarketing} onChange={(e) => setConsentMarketing(e.target.checked)} /> {t('consentMarketing')}
      </label>
      <button type="submit" className="confirm" data-testid="enroll-submit" disabled={busy}>
        {t('enrollSubmit')}
      </button>
    </form>
  );
}

// ---- cardholders: search, profile, admin actions ----------------------------------------------

export function ClientsScreen() {
  const { t } = useTranslation();
  const { call, error } = useCall();
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<CardholderSummary[] | null>(null);
  const [profile, setProfile] = useState<ProfileView | null>(null);
  const search = async (e: FormEvent) => {
    e.preventDefault();
    setFound(await call('searchCardholders', { query }));
    setProfile(null);
  };
  const open = async (id: string) => setProfile(await call('profile', { cardholderId: id }));
  return (
    <section className="screen" data-testid="clients-screen">
      <h2>{t('clientsTitle')}</h2>
      <form onSubmit={search} className="row">
        <input data-testid="client-query" value={query} onChange={(e) => setQuery(e.target.value)} placeholder={t('clientQuery')} autoFocus />
        <button type="submit">{t('find')}</button>
      </form>
      <Message error={error} testId="screen-error" />
      {found && !profile && (
        <ul className="results" data-testid="client-results">
          {found.length === 0 && <li>{t('nothingFound')}</li>}
          {found.map((c) => (
            <li key={c.cardholderId}>
              <button data-testid="client-result" onClick={() => void open(c.cardholderId)}>
                {c.displayName} · {c.cards.map((k) => k.maskedNumber).join(', ')} · {c.balance} {t('points')}
              </button>
            </li>
          ))}
        </ul>
      )}
      {profile && <Profile profile={profile} onChange={setProfile} />}
    </section>
  );
}

function Profile({ profile, onChange }: { profile: ProfileView; onChange: (p: ProfileView) => void }) {
  const { t, i18n } = useTranslation();
  return (
    <div className="profile" data-testid="profile">
      <h3 data-testid="profile-name">
        {profile.displayName} <small>{profile.enrollmentNo}</small>
      </h3>
      <p>
        {t('enrolledAt')} {formatDate(profile.enrolledAt)} · {t('balance')}: <strong data-testid="profile-balance">{profile.balance}</strong> · {t('completeness')}: {profile.completeness}% ·{' '}
        {t(`status_${profile.status}`)}
      </p>
      <dl>
        {Object.entries(profile.holder).map(([k, v]) => (
          <Pair key={k} label={t(`f_${k}`)}>
            {k.endsWith('Date') ? formatDate(v) : fields.find((f) => f.name === k)?.options ? t(`o_${v}`) : v}
          </Pair>
        ))}
      </dl>
      <h4>{t('cards')}</h4>
      <ul data-testid="profile-cards">
        {profile.cards.map((c) => (
          <li key={c.cardId} data-testid="profile-card" data-status={c.status}>
            {c.maskedNumber} — {t(`card_${c.status}`)}
          </li>
        ))}
      </ul>
      <AdminActions profile={profile} onDone={onChange} />
      <h4>{t('history')}</h4>
      <table className="basket history">
        <tbody>
          {profile.receipts.map((r) => (
            <tr key={r.id}>
              <td>{formatDate(r.createdAt)}</td>
              <td>
                {t(r.kind === 'sale' ? 'receipt' : 'returnReceipt')} {r.number}
              </td>
              <td>{formatMoney(r.toPay)}</td>
              <td>
                +{r.pointsEarned} / −{r.pointsRedeemed}
              </td>
            </tr>
          ))}
          {profile.entries.map((e) => (
            <tr key={e.id} data-testid="profile-entry">
              <td>{formatDate(e.createdAt)}</td>
              <td>{t(`entry_${e.kind}`)}</td>
              <td>{e.points > 0 ? `+${e.points}` : e.points}</td>
              <td>{e.reason || (i18n.language === 'en' ? 'another terminal' : 'другая касса')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Pair({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

type AdminKind = ApiInput<'admin'>['action'];

function AdminActions({ profile, onDone }: { profile: ProfileView; onDone: (p: ProfileView) => void }) {
  const { t } = useTranslation();
  const { call, error, busy } = useCall();
  const [action, setAction] = useState<AdminKind>('block');
  const [cardId, setCardId] = useState(profile.cards[0]?.cardId ?? '');
  const [cardNumber, setCardNumber] = useState('');
  const [points, setPoints] = useState('');
  const [duplicateId, setDuplicateId] = useState('');
  const [reason, setReason] = useState('');
  const [adminPin, setAdminPin] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const id = profile.cardholderId;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const base = { adminPin, reason };
    const input = ((): ApiInput<'admin'> => {
      switch (action) {
        case 'block':
        case 'unblock':
          return { ...base, action, cardId };
        case 'issue':
          return { ...base, action, cardholderId: id, cardNumber };
        case 'replace':
          return { ...base, action, cardId, cardNumber };
        case 'merge':
          return { ...base, action, keepId: id, duplicateId };
        case 'adjust':
          return { ...base, action, cardholderId: id, points: Math.trunc(Number(points)) };
        case 'anonymize':
          return { ...base, action, cardholderId: id };
      }
    })();
    const r = await call('admin', input);
    setAdminPin('');
    if (r) {
      setDone(action);
      setReason('');
      if (r.profile) onDone(r.profile);
    }
  };
  const needsCard = action === 'block' || action === 'unblock' || action === 'replace';
  return (
    <form className="admin" onSubmit={submit} data-testid="admin-form">
      <h4>{t('adminActions')}</h4>
      <Message error={error} testId="admin-error" />
      {done && (
        <p className="ok" data-testid="admin-done">
          {t('adminDone', { action: t(`a_${done}`) })}
        </p>
      )}
      <div className="row">
        <select data-testid="admin-action" value={action} onChange={(e) => setAction(e.target.value as AdminKind)}>
          {(['block', 'unblock', 'issue', 'replace', 'merge', 'adjust', 'anonymize'] as const).map((a) => (
            <option key={a} value={a}>
              {t(`a_${a}`)}
            </option>
          ))}
        </select>
        {needsCard && (
          <select data-testid="admin-card" value={cardId} onChange={(e) => setCardId(e.target.value)}>
            {profile.cards.map((c) => (
              <option key={c.cardId} value={c.cardId}>
                {c.maskedNumber} ({t(`card_${c.status}`)})
              </option>
            ))}
          </select>
        )}
        {(action === 'issue' || action === 'replace') && <input data-testid="admin-card-number" inputMode="numeric" value={cardNumber} onChange={(e) => setCardNumber(e.target.value.replace(/\D/g, ''))} placeholder={t('newCardNumber')} />}
        {action === 'adjust' && <input data-testid="admin-points" type="number" value={points} onChange={(e) => setPoints(e.target.value)} placeholder={t('pointsPlusMinus')} />}
        {action === 'merge' && <input data-testid="admin-duplicate" value={duplicateId} onChange={(e) => setDuplicateId(e.target.value)} placeholder={t('duplicateId')} />}
      </div>
      <div className="row">
        <input data-testid="admin-reason" value={reason} onChange={(e) => setReason(e.target.value)} placeholder={t('reason')} />
        <input data-testid="admin-pin" type="password" inputMode="numeric" autoComplete="off" value={adminPin} onChange={(e) => setAdminPin(e.target.value.replace(/\D/g, '').slice(0, 8))} placeholder={t('adminPin')} />
        <button type="submit" data-testid="admin-submit" disabled={busy}>
          {t('apply')}
        </button>
      </div>
    </form>
  );
}

// ---- shift report ----------------------------------------------------------------------------

export function ShiftScreen() {
  const { t } = useTranslation();
  const { call, error } = useCall();
  const refresh = useSession((s) => s.refresh);
  const [report, setReport] = useState<ShiftReportView | null>(null);
  useEffect(() => {
    void call('shiftReport', {}).then(setReport);
  }, []);
  const close = async () => {
    const r = await call('closeShift', {});
    if (r) setReport(r);
  };
  return (
    <section className="screen zreport" data-testid="shift-screen">
      <h2>{t('zReport')}</h2>
      <Message error={error} testId="screen-error" />
      {report && (
        <>
          <p>
            {formatDate(report.openedAt)} — {report.closedAt ? formatDate(report.closedAt) : t('shiftOpen')}
          </p>
          <table className="basket" data-testid="zreport">
            <thead>
              <tr>
                <th>{t('cashier')}</th>
                <th>{t('receipts')}</th>
                <th>{t('returns')}</th>
                <th>{t('toPay')}</th>
                <th>{t('discount')}</th>
                <th>{t('pointsEarned')}</th>
                <th>{t('pointsRedeemed')}</th>
              </tr>
            </thead>
            <tbody>
              {report.cashiers.map((c) => (
                <tr key={c.cashierId}>
                  <td>{c.name}</td>
                  <td>{c.receipts}</td>
                  <td>{c.returns}</td>
                  <td>{formatMoney(c.toPay)}</td>
                  <td>{formatMoney(c.discount)}</td>
                  <td>{c.pointsEarned}</td>
                  <td>{c.pointsRedeemed}</td>
                </tr>
              ))}
              <tr className="total">
                <td>{t('total')}</td>
                <td data-testid="z-receipts">{report.totals.receipts}</td>
                <td data-testid="z-returns">{report.totals.returns}</td>
                <td data-testid="z-to-pay">{formatMoney(report.totals.toPay)}</td>
                <td>{formatMoney(report.totals.discount)}</td>
                <td>{report.totals.pointsEarned}</td>
                <td>{report.totals.pointsRedeemed}</td>
              </tr>
            </tbody>
          </table>
          <p>
            {t('enrollments')}: <span data-testid="z-enrollments">{report.totals.enrollments}</span>
          </p>
          <div className="row no-print">
            <button onClick={() => window.print()}>{t('print')}</button>
            {report.closedAt ? (
              <button data-testid="shift-finish" onClick={() => void refresh()}>
                {t('finish')}
              </button>
            ) : (
              <button className="danger" data-testid="close-shift" onClick={() => void close()}>
                {t('closeShift')}
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}
