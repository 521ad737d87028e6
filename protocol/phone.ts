// Phone numbers are kept and looked up in E.164. Russian habits are the default: 8XXXXXXXXXX and
// bare 10-digit numbers are +7.
export type PhoneResult = { ok: true; e164: string } | { ok: false; error: string; errorRu: string };

export function normalizePhone(input: string, defaultCountry = '7'): PhoneResult {
  const trimmed = input.trim();
  if (!/^\+?[\d\s()\-.]+$/.test(trimmed)) return bad();
  let digits = trimmed.replace(/\D/g, '');
  if (trimmed.startsWith('+')) return digits.length >= 10 && digits.length <= 15 ? { ok: true, e164: `+${digits}` } : bad();
  if (defaultCountry === '7' && digits.length === 11 && (digits.startsWith('8') || digits.startsWith('7'))) digits = digits.slice(1);
  if (digits.length === 10) return { ok: true, e164: `+${defaultCountry}${digits}` };
  return bad();
}

function bad(): PhoneResult {
  return {
    ok: false,
    error: 'Phone number not recognised: enter 10 digits, e.g. 912 345-67-89, or +country code',
    errorRu: 'Телефон не распознан: введите 10 цифр, например 912 345-67-89, или +код страны',
  };
}
