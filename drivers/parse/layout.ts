// Keyboard layouts. Wedge readers "type" their data as US-layout key presses; what text that turns
// into depends on the layout the OS has active. `KeyboardEvent.code` names the physical key, so
// decoding from it gives the same characters whatever the layout. Text that was already turned into
// Russian-layout characters (pasted, or from a path that used `key`) can be mapped back.

/** Physical key (KeyboardEvent.code) → [unshifted, shifted] character on a US keyboard. */
export const usKeyMap: Readonly<Record<string, readonly [string, string]>> = (() => {
  const m: Record<string, [string, string]> = {};
  for (let c = 65; c <= 90; c++) {
    const up = String.fromCharCode(c);
    m[`Key${up}`] = [up.toLowerCase(), up];
  }
  const shiftedDigits = ')!@#$%^&*(';
  for (let d = 0; d <= 9; d++) {
    m[`Digit${d}`] = [String(d), shiftedDigits[d]!];
    m[`Numpad${d}`] = [String(d), String(d)];
  }
  const punct: Array<[string, string, string]> = [
    ['Minus', '-', '_'],
    ['Equal', '=', '+'],
    ['BracketLeft', '[', '{'],
    ['BracketRight', ']', '}'],
    ['Backslash', '\\', '|'],
    ['IntlBackslash', '\\', '|'],
    ['Semicolon', ';', ':'],
    ['Quote', "'", '"'],
    ['Backquote', '`', '~'],
    ['Comma', ',', '<'],
    ['Period', '.', '>'],
    ['Slash', '/', '?'],
    ['Space', ' ', ' '],
    ['NumpadDecimal', '.', '.'],
    ['NumpadAdd', '+', '+'],
    ['NumpadSubtract', '-', '-'],
    ['NumpadMultiply', '*', '*'],
    ['NumpadDivide', '/', '/'],
    ['NumpadEqual', '=', '='],
  ];
  for (const [code, a, b] of punct) m[code] = [a, b];
  return m;
})();

// The Russian (ЙЦУКЕН) layout on the same physical keys, in US-key order.
const usRow = '`qwertyuiop[]asdfghjkl;\'zxcvbnm,./';
const ruRow = 'ёйцукенгшщзхъфывапролджэячсмитьбю.';
const usRowShift = '~QWERTYUIOP{}ASDFGHJKL:"ZXCVBNM<>?';
const ruRowShift = 'ЁЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,';
const usDigitShift = '!@#$%^&*()';
const ruDigitShift = '!"№;%:?*()';

const ruToUs: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (let i = 0; i < ruRow.length; i++) m.set(ruRow[i]!, usRow[i]!);
  for (let i = 0; i < ruRowShift.length; i++) m.set(ruRowShift[i]!, usRowShift[i]!);
  for (let i = 0; i < ruDigitShift.length; i++) if (ruDigitShift[i] !== usDigitShift[i]) m.set(ruDigitShift[i]!, usDigitShift[i]!);
  m.set('/', '|'); // Shift+Backslash in the Russian layout
  return m;
})();

/** Text contains characters only a non-Latin layout produces (Cyrillic, №). */
export function hasForeignLayoutChars(text: string): boolean {
  return /[\u0400-\u04FF№]/.test(text);
}

/**
 * Reinterpret text typed with the Russian layout active as the US-layout keys that were pressed.
 * Applied to the whole text: in that layout `,` is Shift+Slash (`?`), `;` is Shift+4 (`$`), etc.
 */
export function repairRussianLayout(text: string): string {
  let out = '';
  for (const ch of text) out += ruToUs.get(ch) ?? ch;
  return out;
}
