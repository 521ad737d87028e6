// Luhn (ISO/IEC 7812-1 annex B) check digit, used by bank PANs and by loyalty schemes that opt in.

/** True when `digits` (2+ decimal digits) ends with a valid Luhn check digit. */
export function luhnValid(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The Luhn check digit to append to `payload` (decimal digits). */
export function luhnCheckDigit(payload: string): string {
  if (!/^\d+$/.test(payload)) return '';
  for (let d = 0; d <= 9; d++) if (luhnValid(payload + d)) return String(d);
  return '';
}

/** EAN-13 / EAN-8 / UPC-A (GS1 mod-10, weights 3 and 1 from the right) check. */
export function gs1Valid(digits: string): boolean {
  if (!/^\d{8}$|^\d{12,14}$/.test(digits)) return false;
  let sum = 0;
  for (let i = digits.length - 2, w = 3; i >= 0; i--, w = w === 3 ? 1 : 3) sum += (digits.charCodeAt(i) - 48) * w;
  return (10 - (sum % 10)) % 10 === digits.charCodeAt(digits.length - 1) - 48;
}
