// Calendar arithmetic on ISO strings, in the chain's local time (a fixed UTC offset from the
// program). Pure: `now` always comes from the caller.
const DAY = 86_400_000;

export interface LocalDate {
  y: number;
  m: number;
  d: number;
  /** ISO weekday: Monday 1 … Sunday 7. */
  weekday: number;
}

export function localDate(iso: string, utcOffsetMinutes: number): LocalDate {
  const t = new Date(Date.parse(iso) + utcOffsetMinutes * 60_000);
  const wd = t.getUTCDay();
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate(), weekday: wd === 0 ? 7 : wd };
}

/** When the local day of `iso` began, as an ISO instant (UTC). */
export function localDayStart(iso: string, utcOffsetMinutes: number): string {
  const local = Date.parse(iso) + utcOffsetMinutes * 60_000;
  return new Date(local - (((local % DAY) + DAY) % DAY) - utcOffsetMinutes * 60_000).toISOString();
}

export function addDays(iso: string, days: number): string {
  return new Date(Date.parse(iso) + days * DAY).toISOString();
}

/** Whether time `a` is earlier than `b` (`orSame`: or the same). Two times in toISOString's own
 *  form (UTC with milliseconds: every time the ledger writes) compare as text, unparsed; a frequent
 *  customer has hundreds of lots to check at each pricing. Any other form is parsed. */
export function isoBefore(a: string, b: string, orSame = false): boolean {
  if (isIsoUtc(a) && isIsoUtc(b)) return orSame ? a <= b : a < b;
  return orSame ? Date.parse(a) <= Date.parse(b) : Date.parse(a) < Date.parse(b);
}

/** `YYYY-MM-DDTHH:mm:ss.sssZ`, told by its length and its T and Z. */
function isIsoUtc(s: string): boolean {
  return s.length === 24 && s.charCodeAt(10) === 84 && s.charCodeAt(23) === 90;
}

export function daysBetween(fromIso: string, toIso: string): number {
  return Math.floor((Date.parse(toIso) - Date.parse(fromIso)) / DAY);
}

/** Full years of age on the local date of `now` (birthDate is YYYY-MM-DD). */
export function ageOn(birthDate: string, now: LocalDate): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  if (!m) return null;
  const [by, bm, bd] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return now.y - by - (now.m < bm || (now.m === bm && now.d < bd) ? 1 : 0);
}

/** Is today within [birthday − before, birthday + after] (the nearest birthday, across a year end)? */
export function nearBirthday(birthDate: string, now: LocalDate, before: number, after: number): boolean {
  const m = /^\d{4}-(\d{2})-(\d{2})$/.exec(birthDate);
  if (!m) return false;
  const today = Date.UTC(now.y, now.m - 1, now.d);
  for (const y of [now.y - 1, now.y, now.y + 1]) {
    // 29 February is celebrated on 28 February in other years.
    const bm = Number(m[1]);
    let bd = Number(m[2]);
    if (bm === 2 && bd === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) bd = 28;
    const diff = Math.round((today - Date.UTC(y, bm - 1, bd)) / DAY);
    if (diff >= -before && diff <= after) return true;
  }
  return false;
}

/** A date list entry is MM-DD (every year) or YYYY-MM-DD (once). */
export function isListedDate(dates: readonly string[], now: LocalDate): boolean {
  const md = `${String(now.m).padStart(2, '0')}-${String(now.d).padStart(2, '0')}`;
  const ymd = `${now.y}-${md}`;
  return dates.some((d) => d === md || d === ymd);
}
