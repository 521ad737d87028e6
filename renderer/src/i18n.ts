import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { ru } from './locales/ru';
import { en } from './locales/en';

void i18n.use(initReactI18next).init({
  resources: { ru: { translation: ru }, en: { translation: en } },
  lng: localStorage.getItem('lang') ?? 'ru',
  fallbackLng: 'ru',
  interpolation: { escapeValue: false },
});

export function setLanguage(lng: 'ru' | 'en') {
  localStorage.setItem('lang', lng);
  void i18n.changeLanguage(lng);
}

const intlLocale = (lng: string) => (lng === 'en' ? 'en-GB' : 'ru-RU');

/** Kopecks to roubles for display only; money stays integer everywhere else. */
export function formatMoney(kopecks: number, lng = i18n.language): string {
  const rub = Math.trunc(kopecks / 100);
  const kop = Math.abs(kopecks % 100);
  const sign = kopecks < 0 && rub === 0 ? '-' : '';
  const whole = new Intl.NumberFormat(intlLocale(lng)).format(rub);
  return `${sign}${whole}${lng === 'en' ? '.' : ','}${String(kop).padStart(2, '0')} ₽`;
}

export function formatDate(iso: string, lng = i18n.language): string {
  return new Intl.DateTimeFormat(intlLocale(lng), { day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(iso));
}

export default i18n;
