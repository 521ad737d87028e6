// A realistic ledger for trying the terminal at chain scale and for the benchmarks: N cardholders
// with cards (names, phones, e-mails, birth dates), and for a share of them a year of receipts
// priced by the real engine with the program given — so balances, lots and expiry are true.
import { Ledger } from './ledger';
import { priceBasket, type Program } from '../engine';

export const seedSurnames = ['Иванов', 'Петров', 'Смирнов', 'Кузнецов', 'Попов', 'Соколов', 'Лебедев', 'Козлов', 'Новиков', 'Морозов', 'Волков', 'Соловьёв', 'Васильев', 'Зайцев', 'Павлов', 'Семёнов', 'Голубев', 'Виноградов', 'Богданов', 'Воробьёв'];
const maleNames = ['Александр', 'Дмитрий', 'Сергей', 'Андрей', 'Алексей', 'Иван', 'Михаил', 'Николай'];
const femaleNames = ['Мария', 'Анна', 'Елена', 'Ольга', 'Наталья', 'Татьяна', 'Ирина'];
const goods = [
  { sku: 'COFFEE-250', name: 'Кофе 250 г', category: 'grocery', unitPrice: 45900 },
  { sku: 'MILK-1L', name: 'Молоко 1 л', category: 'dairy', unitPrice: 8990 },
  { sku: 'BREAD', name: 'Хлеб', category: 'bakery', unitPrice: 5490 },
  { sku: 'CHEESE', name: 'Сыр 200 г', category: 'dairy', unitPrice: 32900 },
  { sku: 'TEA-100', name: 'Чай 100 пак.', category: 'grocery', unitPrice: 27900 },
  { sku: 'KETTLE', name: 'Чайник', category: 'appliances', unitPrice: 349000 },
  { sku: 'WINE', name: 'Вино', category: 'alcohol', unitPrice: 79900 },
];

/** Card number and phone of the i-th seeded cardholder (the benchmarks look them up). */
export const seedCardNumber = (i: number) => `2${String(i).padStart(12, '0')}`;
export const seedPhone = (i: number) => `+79${String(100_000_000 + i).padStart(9, '0')}`;

export interface SeedOptions {
  cards: number;
  /** Share of cardholders with a year of purchases (0…1). */
  activeShare?: number;
  program: { program: Program; hash: string };
  /** The end of the seeded year. */
  now?: Date;
  onProgress?: (done: number) => void;
}

export interface SeedReport {
  cards: number;
  receipts: number;
  pointEntries: number;
}

/** A deterministic generator, so the same command makes the same ledger. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

export function seedLedger(path: string, opts: SeedOptions): SeedReport {
  const ledger = new Ledger({ path });
  const end = (opts.now ?? new Date()).getTime();
  const start = end - 365 * 86_400_000;
  const random = rng(20261122);
  const activeEvery = opts.activeShare === 0 ? 0 : Math.max(1, Math.round(1 / (opts.activeShare ?? 0.2)));
  // Seeding only: the file is fsync'd once at the end (a power cut mid-seed means seeding again).
  ledger.sqlite.pragma('synchronous = OFF');
  let receipts = 0;
  try {
    const batch = ledger.sqlite.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const female = i % 2 === 1;
        const surname = seedSurnames[i % seedSurnames.length]! + (female ? 'а' : '');
        const firstName = (female ? femaleNames : maleNames)[(i * 7) % (female ? femaleNames.length : maleNames.length)]!;
        const birth = new Date(Date.UTC(1950 + (i % 55), (i * 5) % 12, 1 + (i % 28))).toISOString().slice(0, 10);
        const enrolledAt = new Date(start - Math.floor(random() * 3 * 365) * 86_400_000).toISOString();
        const card = ledger.enroll({
          holder: { surname: `${surname}${i % 997}`, firstName, birthDate: birth, sex: female ? 'female' : 'male', phone: seedPhone(i), email: `user${i}@example.com` },
          cardNumber: seedCardNumber(i),
          now: enrolledAt,
          consentPd: true,
          consentMarketing: i % 3 === 0,
        })!;
        if (!activeEvery || i % activeEvery !== 0) continue;
        const visits = 1 + Math.floor(random() * 24);
        const days = Array.from({ length: visits }, () => start + Math.floor(random() * 365 * 86_400_000)).sort((a, b) => a - b);
        for (const t of days) {
          const now = new Date(t).toISOString();
          const lines = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({ ...goods[Math.floor(random() * goods.length)]!, qty: 1 + Math.floor(random() * 3) }));
          const state = ledger.cardState(card);
          const balance = state.lots.reduce((s, l) => s + l.points, 0);
          const redeem = random() < 0.3 ? Math.floor(balance / 2) : 0;
          const priced = priceBasket(opts.program.program, opts.program.hash, state, { lines }, { now, redeemPoints: redeem });
          ledger.commitSale({ card, priced, now });
          receipts++;
        }
      }
    });
    for (let i = 0; i < opts.cards; i += 10_000) {
      batch(i, Math.min(opts.cards, i + 10_000));
      opts.onProgress?.(Math.min(opts.cards, i + 10_000));
    }
    ledger.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const pointEntries = ledger.sqlite.prepare('SELECT count(*) FROM point_entries').pluck().get() as number;
    return { cards: opts.cards, receipts, pointEntries };
  } finally {
    ledger.sqlite.pragma('synchronous = FULL');
    ledger.close();
  }
}
