// Demo data for a first start: a few cardholders with cards the README lists, and a small
// product catalogue. Seeding is idempotent: it only fills an empty ledger.
import { readFileSync } from 'node:fs';
import type { Ledger } from '../db/ledger';
import { createUser } from '../db/admin';
import type { Product } from '../protocol/api';
import { resourcePath } from './resources';
import { demoCards } from './demo-cards';

export { demoCards };

/** The demo till's people (README): a cashier and a store admin. */
export const demoUsers = [
  { name: 'Кассир Анна', role: 'cashier' as const, pin: '1111' },
  { name: 'Администратор Олег', role: 'admin' as const, pin: '9999' },
];

export function seedDemo(ledger: Ledger, now: string) {
  if (!ledger.sqlite.prepare('SELECT count(*) FROM users').pluck().get()) {
    for (const u of demoUsers) createUser(ledger, u.name, u.role, u.pin, now);
  }
  const has = ledger.sqlite.prepare('SELECT count(*) FROM cards').pluck().get() as number;
  if (has > 0) return;
  for (const card of demoCards) {
    ledger.enroll({ holder: card.holder, cardNumber: card.number, now, consentPd: true, consentMarketing: false });
  }
}

export function demoCatalog(): Product[] {
  return JSON.parse(readFileSync(resourcePath('demo-catalog.json'), 'utf8')) as Product[];
}
