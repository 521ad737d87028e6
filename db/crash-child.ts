// Child process of the crash test: commits sales in a loop through the real ledger and prints
// each receipt id only after commitSale has returned (i.e. after COMMIT). The parent kills it
// with SIGKILL at random moments.
import { readFileSync } from 'node:fs';
import { Ledger } from './ledger';
import { priceBasket, validateProgram } from '../engine';

const [dbPath, programFile] = process.argv.slice(2) as [string, string];
const checked = validateProgram(JSON.parse(readFileSync(programFile, 'utf8')));
if (!checked.ok) throw new Error('program');
const ledger = new Ledger({ path: dbPath });
const number = '7789000000019';
const card = ledger.findCard({ number }) ?? ledger.enroll({ holder: { firstName: 'Мария', phone: '+79161234567' }, cardNumber: number, now: new Date().toISOString(), consentPd: true })!;
const basket = { lines: [{ sku: 'COFFEE-250', name: 'Кофе', category: 'grocery', qty: 2, unitPrice: 45900 }, { sku: 'MILK-1L', name: 'Молоко', category: 'dairy', qty: 1, unitPrice: 8990 }] };
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const now = new Date().toISOString();
  const priced = priceBasket(checked.program, checked.hash, ledger.cardState(card), basket, { now, redeemPoints: i % 3 === 0 ? 150 : 0 });
  const sale = ledger.commitSale({ card, priced, now });
  process.stdout.write(`${sale.receiptId}\n`);
}
