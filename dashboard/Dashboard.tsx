// HQ's dashboard: is the loyalty program working? The figures over time, the RFM segment grid, the
// NPS trend, before/after the program change, and the terminals' sync health — each table also
// as CSV; and the programs HQ publishes to the terminals. Everything comes from HQ's
// /v1/dashboard API, behind HQ login.
import { useEffect, useState, type FormEvent } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

type Row = Record<string, unknown>;

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(((await res.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** A JSON request to HQ as the signed-in user: whether HQ took it, and its answer (its refusal: `error`, `code`). */
async function post<T>(path: string, body: unknown): Promise<{ ok: boolean; status: number; body: T & { error?: string; code?: string } }> {
  const res = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { ok: res.ok, status: res.status, body: (await res.json().catch(() => ({}))) as T & { error?: string; code?: string } };
}

const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '—');
const rub = (k: unknown) => (typeof k === 'number' ? `${new Intl.NumberFormat('ru-RU').format(Math.round(k / 100))} ₽` : '—');
const figureNames: Record<string, string> = {
  avgReceiptWithCard: 'Средний чек с картой',
  participantRevenueShare: 'Доля выручки участников',
  attractionRatio: 'Коэффициент привлечения',
  activityRatio: 'Коэффициент активности',
  redemptionRatio: 'Коэффициент погашения',
};
const colors = ['#1f7a4d', '#2f6fd1', '#c2410c', '#7c3aed', '#0891b2', '#b45309'];

function Login({ onDone }: { onDone: () => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const res = await fetch('/v1/dashboard/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    if (res.ok) onDone();
    else setError('Неверный логин или пароль');
  };
  return (
    <form className="login" onSubmit={submit} data-testid="hq-login">
      <h1>HQ — вход</h1>
      {error && <p className="error" data-testid="hq-login-error">{error}</p>}
      <input data-testid="hq-user" value={user} onChange={(e) => setUser(e.target.value)} placeholder="Логин" autoFocus />
      <input data-testid="hq-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} placeholder="Пароль" />
      <button type="submit" data-testid="hq-login-submit">Войти</button>
    </form>
  );
}

function Csv({ path }: { path: string }) {
  return (
    <a href={`${path}${path.includes('?') ? '&' : '?'}format=csv`} data-testid="csv">
      CSV
    </a>
  );
}

export function Dashboard() {
  const [authed, setAuthed] = useState<boolean | null>(null);
  useEffect(() => {
    get('/v1/dashboard/me').then(() => setAuthed(true), () => setAuthed(false));
  }, []);
  if (authed === null) return null;
  if (!authed) return <Login onDone={() => setAuthed(true)} />;
  return <Figures />;
}

function Figures() {
  const today = new Date();
  const [to, setTo] = useState(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, 1)).toISOString().slice(0, 10));
  const [from, setFrom] = useState(new Date(Date.UTC(today.getUTCFullYear() - 1, today.getUTCMonth() + 1, 1)).toISOString().slice(0, 10));
  const [store, setStore] = useState('');
  const [stores, setStores] = useState<{ id: string; name: string }[]>([]);
  const [summary, setSummary] = useState<Row | null>(null);
  const [monthly, setMonthly] = useState<Row[]>([]);
  const [perParticipant, setPerParticipant] = useState<Row[]>([]);
  const [segments, setSegments] = useState<Row[]>([]);
  const [terminals, setTerminals] = useState<Row[]>([]);
  const [beforeAfter, setBeforeAfter] = useState<{ at: string | null; days: number; rows: Row[] }>({ at: null, days: 90, rows: [] });
  const [error, setError] = useState('');
  const q = `from=${from}T00:00:00Z&to=${to}T00:00:00Z${store ? `&store=${encodeURIComponent(store)}` : ''}`;

  useEffect(() => {
    void get<{ id: string; name: string }[]>('/v1/dashboard/stores').then(setStores);
    void get<Row[]>('/v1/dashboard/terminals').then(setTerminals);
  }, []);
  useEffect(() => {
    setError('');
    Promise.all([
      get<Row>(`/v1/dashboard/summary?${q}`).then(setSummary),
      get<Row[]>(`/v1/dashboard/monthly?${q}`).then(setMonthly),
      get<Row[]>(`/v1/dashboard/revenue-per-participant?${q}`).then(setPerParticipant),
      get<Row[]>(`/v1/dashboard/rfm?${q}`).then(setSegments),
    ]).catch((e: Error) => setError(e.message));
  }, [q]);
  useEffect(() => {
    // Around the program change (the day the latest version first priced a sale).
    void get<{ at: string | null; days: number; rows: Row[] }>(`/v1/dashboard/before-after?days=90${store ? `&store=${store}` : ''}`).then(setBeforeAfter);
  }, [store]);

  const s = summary as (Row & { nps: Row; inactivity: { bucket: string; participants: number }[] }) | null;
  const grid = new Map(segments.map((x) => [`${x.r}-${x.f}`, gridSum(segments, x.r as number, x.f as number)]));
  return (
    <>
      <header>
        <h1>HQ — эффективность программы лояльности</h1>
        <span className="grow" />
        <label>
          с <input type="date" data-testid="from" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          по <input type="date" data-testid="to" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <select data-testid="store" value={store} onChange={(e) => setStore(e.target.value)}>
          <option value="">Вся сеть</option>
          {stores.map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
            </option>
          ))}
        </select>
      </header>
      {error && <p className="error">{error}</p>}
      <main>
        <section className="wide" data-testid="kpis">
          <h2>
            Показатели за период <Csv path={`/v1/dashboard/summary?${q}`} />
          </h2>
          {s && (
            <div className="kpis">
              <Kpi id="attraction" label="Коэффициент привлечения" value={pct(s.attractionRatio)} />
              <Kpi id="activity" label="Коэффициент активности" value={pct(s.activityRatio)} />
              <Kpi id="churn" label="Отток" value={pct(s.churnRate)} />
              <Kpi id="redemption" label="Коэффициент погашения" value={pct(s.redemptionRatio)} />
              <Kpi id="burn" label="Коэффициент сгорания" value={pct(s.burnRatio)} />
              <Kpi id="refusal" label="Доля отказов" value={pct(s.refusalShare)} />
              <Kpi id="revenue-share" label="Доля выручки участников" value={pct(s.participantRevenueShare)} />
              <Kpi id="pareto" label="Доля топ-20% участников" value={pct(s.top20RevenueShare)} />
              <Kpi id="avg-card" label="Средний чек с картой" value={rub(s.avgReceiptWithCard)} />
              <Kpi id="avg-nocard" label="Средний чек без карты" value={rub(s.avgReceiptWithoutCard)} />
              <Kpi id="participants" label="Участников" value={String(s.participants)} />
              <Kpi id="nps" label="NPS" value={s.nps.score === null ? '—' : String(s.nps.score)} />
            </div>
          )}
        </section>
        <section className="wide" data-testid="chart-ratios">
          <h2>
            Коэффициенты по месяцам <Csv path={`/v1/dashboard/monthly?${q}`} />
          </h2>
          <ResponsiveContainer width="100%" height={260}>
            <LineChart data={monthly}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="month" />
              <YAxis tickFormatter={(v: number) => `${Math.round(v * 100)}%`} domain={[0, 1]} />
              <Tooltip formatter={(v) => pct(v)} />
              <Legend />
              {(
                [
                  ['attractionRatio', 'Привлечение'],
                  ['activityRatio', 'Активность'],
                  ['redemptionRatio', 'Погашение'],
                  ['burnRatio', 'Сгорание'],
                  ['participantRevenueShare', 'Доля выручки участников'],
                  ['refusalShare', 'Доля отказов'],
                ] as const
              ).map(([key, name], i) => (
                <Line key={key} type="monotone" dataKey={key} name={name} stroke={colors[i]} dot={false} isAnimationActive={false} />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </section>
        <section data-testid="chart-revenue">
          <h2>
            Выручка на участника <Csv path={`/v1/dashboard/revenue-per-participant?${q}`} />
          </h2>
          <ResponsiveContainer width="100%" height={220}>
            <BarChart data={perParticipant.map((r) => ({ ...r, rub: Number(r.perParticipant) / 100 }))}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="month" />
              <YAxis />
              <Tooltip />
              <Bar dataKey="rub" name="₽ на участника" fill="#1f7a4d" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </section>
        <section data-testid="chart-nps">
          <h2>NPS по месяцам</h2>
          <ResponsiveContainer width="100%" height={220}>
            <LineChart data={monthly}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="month" />
              <YAxis domain={[-100, 100]} />
              <Tooltip />
              <Line type="monotone" dataKey="nps" name="NPS" stroke="#7c3aed" isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </section>
        <section data-testid="rfm">
          <h2>
            RFM-сегменты (давность × частота, клиентов) <Csv path={`/v1/dashboard/rfm?${q}`} />
          </h2>
          <table className="rfm">
            <thead>
              <tr>
                <th>R \ F</th>
                {[1, 2, 3, 4, 5].map((f) => (
                  <th key={f}>{f}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {[5, 4, 3, 2, 1].map((r) => (
                <tr key={r}>
                  <th>{r}</th>
                  {[1, 2, 3, 4, 5].map((f) => {
                    const v = grid.get(`${r}-${f}`) ?? 0;
                    return (
                      <td key={f} className="cell" data-testid={`rfm-${r}-${f}`} style={{ background: `rgba(31,122,77,${Math.min(1, 0.15 + v / Math.max(1, maxOf(segments)))})` }}>
                        {v}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section data-testid="before-after">
          <h2>
            До и после изменения программы ({beforeAfter.at ? new Date(beforeAfter.at).toLocaleDateString('ru-RU') : 'изменений не было'}, ±{beforeAfter.days} дней)
          </h2>
          <table>
            <thead>
              <tr>
                <th>Показатель</th>
                <th>До</th>
                <th>После</th>
              </tr>
            </thead>
            <tbody>
              {beforeAfter.rows.map((r) => (
                <tr key={String(r.figure)} data-testid="before-after-row">
                  <td>{figureNames[String(r.figure)] ?? String(r.figure)}</td>
                  <td>{String(r.figure).startsWith('avg') ? rub(r.before) : pct(r.before)}</td>
                  <td>{String(r.figure).startsWith('avg') ? rub(r.after) : pct(r.after)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {s && (
            <>
              <h2>Период неактивности участников</h2>
              <table>
                <tbody>
                  {s.inactivity.map((b) => (
                    <tr key={b.bucket}>
                      <td>{b.bucket === 'never' ? 'ни одной покупки' : `${b.bucket} дн.`}</td>
                      <td>{b.participants}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </section>
        <Programs />
        <section className="wide" data-testid="terminals">
          <h2>
            Терминалы: синхронизация <Csv path="/v1/dashboard/terminals" />
          </h2>
          <table>
            <thead>
              <tr>
                <th>Терминал</th>
                <th>Магазин</th>
                <th>Последняя связь</th>
                <th>Ожидают отправки</th>
                <th>Старейшая неотправленная</th>
                <th>Отклонено операций</th>
                <th>Программа</th>
              </tr>
            </thead>
            <tbody>
              {terminals.map((t) => (
                <tr key={String(t.terminal_id)} data-testid="terminal-row">
                  <td>{String(t.terminal_id)}</td>
                  <td>{String(t.store_id)}</td>
                  <td>{t.last_contact_at ? new Date(String(t.last_contact_at)).toLocaleString('ru-RU') : '—'}</td>
                  <td className={Number(t.pending_reported) > 0 ? 'warn' : ''}>{t.pending_reported === null ? '—' : String(t.pending_reported)}</td>
                  <td>{t.oldest_pending_at ? new Date(String(t.oldest_pending_at)).toLocaleString('ru-RU') : '—'}</td>
                  <td className={Number(t.rejected_ops) > 0 ? 'warn' : ''}>{String(t.rejected_ops)}</td>
                  <td className={t.program_hash && !t.program_in_force ? 'warn' : ''} data-testid="terminal-program" title={t.program_hash ? String(t.program_hash) : ''}>
                    {t.program_id ? `${String(t.program_id)} v${String(t.program_version)}` : t.program_hash ? 'не из центра' : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </main>
    </>
  );
}

/** Why HQ refused a version, in the dashboard's language (HQ's own words follow). */
const refusals: Record<string, string> = {
  program_invalid: ' — программа не прошла проверку',
  program_version_taken: ' — эта версия уже опубликована с другим содержанием',
  program_version_old: ' — версия ниже последней опубликованной',
  program_in_force: ' — версия уже в силе',
  program_unknown: ' — такой версии нет',
};

/** The versions HQ has published (the one in force, those to come), and a new one from a JSON file, at once or from a moment. */
function Programs() {
  const [versions, setVersions] = useState<Row[]>([]);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [from, setFrom] = useState(''); // local date and time; empty: at once
  const load = () => void get<Row[]>('/v1/dashboard/programs').then(setVersions);
  useEffect(load, []);
  const publish = async (file: File | undefined) => {
    if (!file) return;
    let json: unknown;
    try {
      json = JSON.parse(await file.text());
    } catch (e) {
      setMessage({ ok: false, text: `${file.name}: не JSON (${(e as Error).message})` });
      return;
    }
    const when = from ? `?activeFrom=${encodeURIComponent(new Date(from).toISOString())}` : '';
    const { ok, status, body } = await post<{ id?: string; version?: number; published?: boolean; activeFrom?: string }>(`/v1/dashboard/programs${when}`, json);
    const at = body.activeFrom && Date.parse(body.activeFrom) > Date.now() ? `с ${new Date(body.activeFrom).toLocaleString('ru-RU')}` : 'после следующей синхронизации';
    if (!ok) setMessage({ ok: false, text: `Не опубликовано${refusals[body.code ?? ''] ?? ''}: ${body.error ?? `HTTP ${status}`}` });
    else setMessage({ ok: true, text: body.published ? `Опубликована версия ${body.version} программы ${body.id}: кассы перейдут на неё ${at}` : `Версия ${body.version} программы ${body.id} уже опубликована` });
    load();
  };
  const withdraw = async (p: Row) => {
    if (!window.confirm(`Отменить версию ${String(p.version)} программы ${String(p.id)}? Она не вступит в силу ни на одной кассе.`)) return;
    const { ok, status, body } = await post<object>('/v1/dashboard/programs/withdraw', { id: p.id, version: p.version });
    if (!ok) setMessage({ ok: false, text: `Не отменено${refusals[body.code ?? ''] ?? ''}: ${body.error ?? `HTTP ${status}`}` });
    else setMessage({ ok: true, text: `Версия ${String(p.version)} программы ${String(p.id)} отменена: кассы удалят её при следующей синхронизации` });
    load();
  };
  return (
    <section className="wide" data-testid="programs">
      <h2>Программы</h2>
      <label className="publish">
        В силе с <input type="datetime-local" data-testid="program-from" value={from} onChange={(e) => setFrom(e.target.value)} /> (пусто — сразу)
      </label>
      <label className="publish">
        Опубликовать версию (JSON): <input type="file" accept=".json,application/json" data-testid="program-file" onChange={(e) => void publish(e.target.files?.[0]).finally(() => (e.target.value = ''))} />
      </label>
      {message && (
        <p className={message.ok ? 'ok' : 'error'} data-testid="program-message">
          {message.text}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>Программа</th>
            <th>Версия</th>
            <th>Название</th>
            <th>Опубликована</th>
            <th>В силе с</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {versions.map((p) => (
            <tr key={`${String(p.id)}-${String(p.version)}`} data-testid="program-row">
              <td>{String(p.id)}</td>
              <td>{String(p.version)}</td>
              <td>{String(p.name)}</td>
              <td>{new Date(String(p.publishedAt)).toLocaleString('ru-RU')}</td>
              <td>{new Date(String(p.activeFrom)).toLocaleString('ru-RU')}</td>
              <td data-testid="program-state">
                {{ 'in force': 'действует', 'to come': 'запланирована', replaced: '', withdrawn: 'отменена' }[String(p.state)]}
                {p.state === 'to come' && (
                  <button type="button" data-testid="program-withdraw" onClick={() => void withdraw(p)}>
                    Отменить
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function gridSum(segments: Row[], r: number, f: number) {
  return segments.filter((x) => x.r === r && x.f === f).reduce((s, x) => s + Number(x.cardholders), 0);
}

function maxOf(segments: Row[]) {
  let max = 0;
  for (let r = 1; r <= 5; r++) for (let f = 1; f <= 5; f++) max = Math.max(max, gridSum(segments, r, f));
  return max;
}

function Kpi({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <div className="kpi" data-testid={`kpi-${id}`}>
      <b>{value}</b>
      <span>{label}</span>
    </div>
  );
}
