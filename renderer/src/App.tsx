import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { TerminalEvent } from '../../protocol/api';
import { ReasonList } from './common';
import { ClientsScreen, EnrollScreen, LoginScreen, ReturnScreen, ShiftScreen } from './screens';
import { screenKeys, useSession, type Screen } from './session';
import { api } from './transport';
import { useCheckout } from './store';
import { formatMoney, setLanguage } from './i18n';
import { useWedgeReader } from './wedge';

/** "3 мин" / "2 h 5 min": how long the oldest operation has waited. */
function formatAge(ms: number, lang: string): string {
  const min = Math.max(0, Math.floor(ms / 60_000));
  const [h, m] = [Math.floor(min / 60), min % 60];
  const u = lang === 'en' ? { h: 'h', m: 'min' } : { h: 'ч', m: 'мин' };
  return h ? `${h} ${u.h} ${m} ${u.m}` : `${m} ${u.m}`;
}

function StatusBar() {
  const { t, i18n } = useTranslation();
  const status = useCheckout((s) => s.status);
  if (!status) return <header className="status-bar" />;
  const { sync, readers } = status;
  return (
    <header className="status-bar" data-testid="status-bar">
      <span className="brand">{t('title')} {status.terminal.code}</span>
      <span className="readers">
        {t('readers')}:{' '}
        {readers.map((r) => (
          <span key={r.readerId} className={`reader reader-${r.status}`} data-testid={`reader-${r.readerId}`} title={r.reason ?? ''}>
            {r.readerId} — {t(`reader_${r.status}`)}
          </span>
        ))}
      </span>
      <span className={sync.online ? 'online' : 'offline'} data-testid="sync-state" title={sync.lastError ?? ''}>
        {sync.hqUrl ? (sync.online ? t('online') : t('offline')) : t('noHq')} · <span data-testid="sync-pending" data-count={sync.pendingOperations}>{t('pendingOps', { count: sync.pendingOperations })}</span>
        {sync.oldestPendingAt && <span data-testid="sync-oldest"> · {t('oldestPending', { age: formatAge(Date.now() - Date.parse(sync.oldestPendingAt), i18n.language) })}</span>}
      </span>
      {status.program && (
        <span className={status.program.refused ? 'program program-refused' : 'program'} data-testid="program" title={status.program.refused ?? status.program.hash}>
          {t('program')}: {status.program.name} v{status.program.version}
          {status.program.source === 'hq' && ` (${t('programFromHq')})`}
          {status.program.refused && ' ⚠'}
          {status.program.next && (
            <span data-testid="program-next">
              {' '}
              · {t('programNext', { version: status.program.next.version, at: new Date(status.program.next.activeFrom).toLocaleString(i18n.language === 'en' ? 'en-GB' : 'ru-RU', { dateStyle: 'short', timeStyle: 'short' }) })}
            </span>
          )}
        </span>
      )}
      <span className="lang">
        <button onClick={() => setLanguage('ru')}>RU</button>
        <button onClick={() => setLanguage('en')}>EN</button>
      </span>
    </header>
  );
}

function ProductEntry() {
  const { t } = useTranslation();
  const addProduct = useCheckout((s) => s.addProduct);
  const showError = useCheckout((s) => s.showError);
  const [query, setQuery] = useState('');
  // A scanner sends the next barcode before the last lookup has answered: the field is cleared at
  // once and lookups are queued, so every scan lands in the basket, in the order it was scanned.
  const queue = useRef(Promise.resolve());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const wanted = query.trim();
    if (!wanted) return;
    setQuery('');
    queue.current = queue.current.then(async () => {
      const r = await api.call('findProducts', { query: wanted });
      if (!r.ok) return showError(r.error);
      const [first] = r.value;
      if (!first) return showError({ code: 'not_found', message: `No item matches "${wanted}"`, messageRu: `Товар «${wanted}» не найден` });
      await addProduct(first);
    });
  };
  return (
    <>
      <form onSubmit={submit} className="product-entry">
        <input id="product-search" data-testid="product-search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder={t('productSearch')} accessKey="2" />
        <button type="submit">{t('add')}</button>
      </form>
      <FreeAmount />
    </>
  );
}

const freeCategories = ['grocery', 'dairy', 'bakery', 'produce', 'appliances', 'doors', 'services', 'alcohol', 'tobacco'];

/** A line without a catalogue item: an amount in roubles and the category the rules apply to (F7). */
function FreeAmount() {
  const { t } = useTranslation();
  const addProduct = useCheckout((s) => s.addProduct);
  const showError = useCheckout((s) => s.showError);
  const [amount, setAmount] = useState('');
  const [category, setCategory] = useState('grocery');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const m = /^(\d{1,7})(?:[.,](\d{1,2}))?$/.exec(amount.trim());
    if (!m || (m[1] === '0' && !Number(m[2] ?? 0))) {
      return showError({ code: 'bad_amount', message: 'Type an amount in roubles, e.g. 250 or 99,90', messageRu: 'Введите сумму в рублях, например 250 или 99,90' });
    }
    const kopecks = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
    await addProduct({ sku: `FREE-${category}-${kopecks}-${Date.now()}`, barcode: '', name: `${t('freeAmount')}: ${t(`cat_${category}`)}`, category, unitPrice: kopecks });
    setAmount('');
  };
  return (
    <form onSubmit={submit} className="product-entry free-amount">
      <input id="free-amount" data-testid="free-amount" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} placeholder={`${t('freeAmount')}, ₽ (F7)`} />
      <select data-testid="free-category" value={category} onChange={(e) => setCategory(e.target.value)}>
        {freeCategories.map((c) => (
          <option key={c} value={c}>
            {t(`cat_${c}`)}
          </option>
        ))}
      </select>
      <button type="submit">{t('add')}</button>
    </form>
  );
}

function Basket() {
  const { t } = useTranslation();
  const { lines, priced, removeLine } = useCheckout();
  if (!lines.length) return <p className="empty">{t('emptyBasket')}</p>;
  return (
    <table className="basket" data-testid="basket">
      <thead>
        <tr>
          <th />
          <th>{t('qty')}</th>
          <th>{t('price')}</th>
          <th>{t('discount')}</th>
          <th>{t('sum')}</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {lines.map((l, i) => {
          const p = priced?.lines[i];
          return (
            <tr key={l.sku}>
              <td>
                {l.name}
                {p && <ReasonList reasons={p.reasons} />}
              </td>
              <td>{l.qty}</td>
              <td>{formatMoney(l.unitPrice)}</td>
              <td data-testid="line-discount">{p && p.discount ? `−${formatMoney(p.discount)}` : ''}</td>
              <td>{p ? formatMoney(p.net) : formatMoney(l.unitPrice * l.qty)}</td>
              <td>
                <button onClick={() => removeLine(i)} aria-label={t('removeLine')}>
                  ×
                </button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function CustomerPanel() {
  const { t, i18n } = useTranslation();
  const { customer, identify, setCustomer } = useCheckout();
  const [query, setQuery] = useState('');
  if (!customer) {
    return (
      <section className="customer" data-testid="customer">
        <p>{t('noCard')}</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void identify(query).then(() => setQuery(''));
          }}
        >
          <input id="card-query" data-testid="card-query" value={query} onChange={(e) => setQuery(e.target.value)} placeholder={t('cardOrPhone')} accessKey="3" />
          <button type="submit">{t('find')}</button>
        </form>
      </section>
    );
  }
  return (
    <section className="customer" data-testid="customer">
      <h2 data-testid="customer-name">{customer.displayName}</h2>
      <p className="card-number" data-testid="card-masked">
        {customer.maskedNumber}
      </p>
      <dl>
        {customer.tier && (
          <>
            <dt>{t('tier')}</dt>
            <dd data-testid="tier">{i18n.language === 'en' ? customer.tier.en : customer.tier.ru}</dd>
          </>
        )}
        <dt>{t('balance')}</dt>
        <dd data-testid="balance">{customer.balance}</dd>
        <dt>{t('available')}</dt>
        <dd data-testid="available">{customer.availablePoints}</dd>
        {customer.pendingPoints > 0 && (
          <>
            <dt>{t('pending')}</dt>
            <dd>{customer.pendingPoints}</dd>
          </>
        )}
      </dl>
      <button onClick={() => setCustomer(null)}>{t('clearCard')}</button>
    </section>
  );
}

function Totals() {
  const { t } = useTranslation();
  const { priced, customer, redeemPoints, setRedeem, checkout, busy } = useCheckout();
  if (!priced) return null;
  return (
    <section className="totals" data-testid="totals">
      <ReasonList reasons={priced.reasons} />
      <dl>
        <dt>{t('gross')}</dt>
        <dd>{formatMoney(priced.totals.gross)}</dd>
        <dt>{t('discount')}</dt>
        <dd data-testid="total-discount">{formatMoney(priced.totals.discount)}</dd>
        {priced.totals.pointsRedeemed > 0 && (
          <>
            <dt>{t('pointsRedeemed')}</dt>
            <dd data-testid="points-redeemed">
              {priced.totals.pointsRedeemed} (−{formatMoney(priced.totals.redeemKopecks)})
            </dd>
          </>
        )}
        <dt>{t('pointsEarned')}</dt>
        <dd data-testid="points-earned">{priced.totals.pointsEarned}</dd>
        <dt className="to-pay">{t('toPay')}</dt>
        <dd className="to-pay" data-testid="to-pay">
          {formatMoney(priced.totals.toPay)}
        </dd>
      </dl>
      {customer && priced.maxRedeemPoints > 0 && (
        <label className="redeem">
          {t('redeem')} ({t('redeemMax', { max: priced.maxRedeemPoints })})
          <input data-testid="redeem" type="number" min={0} max={priced.maxRedeemPoints} value={redeemPoints} onChange={(e) => setRedeem(Number(e.target.value))} accessKey="9" />
        </label>
      )}
      {priced.redeemRefused && <ReasonList reasons={[priced.redeemRefused]} />}
      <button className="confirm" data-testid="confirm" disabled={busy} onClick={() => checkout()}>
        {t('confirm')} (F12)
      </button>
    </section>
  );
}

function ReceiptView() {
  const { t } = useTranslation();
  const { receipt, newSale } = useCheckout();
  if (!receipt) return null;
  return (
    <section className="receipt" data-testid="receipt">
      <h2>
        {t('receipt')} <span data-testid="receipt-number">{receipt.receiptNumber}</span>
      </h2>
      <ReasonList reasons={receipt.priced.lines.flatMap((l) => l.reasons).concat(receipt.priced.reasons)} />
      <p>
        {t('toPay')}: {formatMoney(receipt.priced.totals.toPay)}
      </p>
      {receipt.customer && (
        <p>
          {t('newBalance')}: <strong data-testid="new-balance">{receipt.customer.balance}</strong> {t('points')}
        </p>
      )}
      <Nps receiptId={receipt.receiptId} />
      <button onClick={newSale}>{t('newSale')} (Esc)</button>
    </section>
  );
}

/** One keypress (F9) to offer the customer the NPS question; one click for the answer. */
function Nps({ receiptId }: { receiptId: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [comment, setComment] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if (e.key === 'F9') {
        e.preventDefault();
        setOpen(true);
      }
    };
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  }, []);
  if (saved) return <p className="ok" data-testid="nps-saved">{t('npsThanks')}</p>;
  if (!open) return <button data-testid="nps-offer" onClick={() => setOpen(true)}>{t('npsOffer')} (F9)</button>;
  const answer = async (score: number) => {
    const r = await api.call('nps', { receiptId, score, ...(comment.trim() ? { comment } : {}) });
    if (r.ok) setSaved(true);
  };
  return (
    <div className="nps" data-testid="nps">
      <p>{t('npsQuestion')}</p>
      <div className="row">
        {Array.from({ length: 11 }, (_, i) => (
          <button key={i} data-testid={`nps-${i}`} onClick={() => void answer(i)}>
            {i}
          </button>
        ))}
      </div>
      <input data-testid="nps-comment" value={comment} onChange={(e) => setComment(e.target.value)} placeholder={t('npsComment')} />
    </div>
  );
}

function SimulatedReader() {
  const { t } = useTranslation();
  const [raw, setRaw] = useState(';7789000000019=2812?');
  return (
    <form
      className="sim-reader"
      onSubmit={(e) => {
        e.preventDefault();
        void api.call('simulateSwipe', { raw });
      }}
    >
      <label>
        {t('simulateSwipe')}: <input data-testid="sim-raw" value={raw} onChange={(e) => setRaw(e.target.value)} />
      </label>
      <button type="submit" data-testid="sim-swipe">
        {t('swipe')}
      </button>
    </form>
  );
}

const screens: { id: Screen; key: string }[] = [
  { id: 'sale', key: 'F1' },
  { id: 'return', key: 'F4' },
  { id: 'enroll', key: 'F5' },
  { id: 'clients', key: 'F6' },
  { id: 'shift', key: 'F8' },
];

function Nav() {
  const { t } = useTranslation();
  const { screen, go, session, logout } = useSession();
  return (
    <nav className="nav">
      {screens.map((s) => (
        <button key={s.id} data-testid={`nav-${s.id}`} className={screen === s.id ? 'active' : ''} onClick={() => go(s.id)}>
          {t(`screen_${s.id}`)} <kbd>{s.key}</kbd>
        </button>
      ))}
      <span className="who" data-testid="who">
        {session?.user?.name}
      </span>
      <button data-testid="logout" onClick={() => void logout()}>
        {t('logout')}
      </button>
    </nav>
  );
}

function SaleScreen() {
  return (
    <main>
      <div className="left">
        <ProductEntry />
        <Basket />
      </div>
      <div className="right">
        <CustomerPanel />
        <Totals />
        <ReceiptView />
      </div>
    </main>
  );
}

export function App() {
  const { i18n } = useTranslation();
  const { error, refreshStatus, setCustomer, showError, checkout, newSale } = useCheckout();
  const { session, screen, go, refresh: refreshSession, setSwipedCard, openShift } = useSession();
  const errorRef = useRef<HTMLDivElement>(null);
  useWedgeReader();

  useEffect(() => {
    void refreshStatus();
    void refreshSession();
    const timer = setInterval(() => void refreshStatus(), 5000);
    const off = api.subscribe((ev: TerminalEvent) => {
      if (ev.type === 'card') void setCustomer(ev.customer);
      else if (ev.type === 'unknownCard') setSwipedCard(ev.maskedNumber);
      else if (ev.type === 'cardError') {
        if (useSession.getState().screen !== 'enroll') showError({ code: 'card', message: ev.message, messageRu: ev.messageRu });
      } else void refreshStatus();
    });
    const keys = (e: KeyboardEvent) => {
      const target = screenKeys[e.key];
      const state = useSession.getState();
      if (target && state.session?.user) {
        e.preventDefault();
        if (target === 'shift' && !state.session.shift) void openShift();
        else go(target);
      } else if (state.screen !== 'sale') return;
      else if (e.key === 'F12' || (e.key === 'Enter' && e.ctrlKey)) {
        e.preventDefault();
        void checkout();
      } else if (e.key === 'Escape') newSale();
      else if (e.key === 'F2') {
        e.preventDefault();
        document.getElementById('product-search')?.focus();
      } else if (e.key === 'F3') {
        e.preventDefault();
        document.getElementById('card-query')?.focus();
      } else if (e.key === 'F7') {
        e.preventDefault();
        document.getElementById('free-amount')?.focus();
      }
    };
    window.addEventListener('keydown', keys);
    return () => {
      clearInterval(timer);
      off();
      window.removeEventListener('keydown', keys);
    };
  }, [refreshStatus, refreshSession, setCustomer, showError, checkout, newSale, go, setSwipedCard, openShift]);

  const ready = !!session?.user && !!session.shift;
  return (
    <div className="app">
      <StatusBar />
      {ready && <Nav />}
      {error && (
        <div className="error" role="alert" data-testid="error" ref={errorRef} onClick={() => showError(null)}>
          {i18n.language === 'en' ? error.message : error.messageRu}
        </div>
      )}
      {!ready ? (
        <div className="center">
          <LoginScreen />
        </div>
      ) : screen === 'sale' ? (
        <SaleScreen />
      ) : (
        <div className="center">
          {screen === 'return' && <ReturnScreen />}
          {screen === 'enroll' && <EnrollScreen />}
          {screen === 'clients' && <ClientsScreen />}
          {screen === 'shift' && <ShiftScreen />}
        </div>
      )}
      <footer>
        <SimulatedReader />
      </footer>
    </div>
  );
}
