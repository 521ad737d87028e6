// The demo cardholders and cards (README lists them); shared by the terminal and HQ demo seeds.
import type { Holder } from '../db/ledger';

export interface DemoCard {
  number: string;
  holder: Holder;
  note: string;
}

export const demoCards: DemoCard[] = [
  { number: '7789000000019', holder: { surname: 'Иванова', firstName: 'Мария', patronymic: 'Петровна', phone: '+79161234567', birthDate: '1985-03-14', sex: 'female' }, note: 'new card, welcome bonus on the first purchase' },
  { number: '7789000000027', holder: { surname: 'Петров', firstName: 'Алексей', patronymic: 'Иванович', phone: '+79031112233', birthDate: '1958-11-02', sex: 'male', socialCategory: 'pensioner' }, note: 'pensioner' },
  { number: '7789000000035', holder: { surname: 'Смирнова', firstName: 'Ольга', phone: '+79265554433', birthDate: '2001-07-30', sex: 'female', socialCategory: 'student' }, note: 'student' },
  { number: '7789000000043', holder: { surname: 'Кузнецов', firstName: 'Дмитрий', phone: '+79857776655', sex: 'male' }, note: 'plain card' },
  { number: '7789000000050', holder: { firstName: 'Анна', phone: '+79990001122' }, note: 'minimal enrollment (a name and a phone)' },
];
