// ISO/IEC 7816-3 Answer-To-Reset: TS, T0, the TA/TB/TC/TD interface-byte chain, historical bytes
// and the TCK check character (present whenever a protocol other than T=0 is offered). Pure.
import { toHex } from './bytes';
import { fail, ok, type Result } from './result';

export interface Atr {
  convention: 'direct' | 'inverse';
  /** Protocols offered (T=0 when no TD says otherwise). */
  protocols: number[];
  /** Interface bytes by name, e.g. { TA1: 0x96, TD1: 0x81 }. */
  interfaceBytes: Record<string, number>;
  historical: string;
  tckValid?: boolean;
  hex: string;
}

export function parseAtr(bytes: Uint8Array): Result<Atr> {
  if (bytes.length < 2) return fail('atr', `${bytes.length} bytes (at least TS and T0 expected)`);
  if (bytes.length > 33) return fail('atr', `${bytes.length} bytes (an ATR has at most 33)`);
  const ts = bytes[0]!;
  if (ts !== 0x3b && ts !== 0x3f) return fail('atr', `TS is ${toHex([ts])} (3B or 3F expected)`);
  const interfaceBytes: Record<string, number> = {};
  const protocols = new Set<number>();
  let i = 1;
  let y = bytes[i]! >> 4;
  const k = bytes[i]! & 0x0f;
  i++;
  for (let n = 1; ; n++) {
    for (const [bit, name] of [[1, 'TA'], [2, 'TB'], [4, 'TC'], [8, 'TD']] as const) {
      if (!(y & bit)) continue;
      if (i >= bytes.length) return fail('atr', `${name}${n} announced but the ATR ends`);
      interfaceBytes[`${name}${n}`] = bytes[i++]!;
    }
    if (!(y & 8)) break;
    const td = interfaceBytes[`TD${n}`]!;
    protocols.add(td & 0x0f);
    y = td >> 4;
    if (n > 7) return fail('atr', 'too many interface-byte groups');
  }
  if (protocols.size === 0) protocols.add(0);
  if (i + k > bytes.length) return fail('atr', `${k} historical bytes announced, ${bytes.length - i} present`);
  const historical = toHex(bytes.subarray(i, i + k));
  i += k;
  const needsTck = [...protocols].some((p) => p !== 0);
  let tckValid: boolean | undefined;
  if (needsTck) {
    if (i >= bytes.length) return fail('atr', 'TCK missing');
    let x = 0;
    for (let j = 1; j <= i; j++) x ^= bytes[j]!;
    tckValid = x === 0;
    if (!tckValid) return fail('atr', 'TCK check failed');
    i++;
  }
  if (i !== bytes.length) return fail('atr', `${bytes.length - i} unexpected trailing bytes`);
  return ok({
    convention: ts === 0x3b ? 'direct' : 'inverse',
    protocols: [...protocols].sort((a, b) => a - b),
    interfaceBytes,
    historical,
    ...(tckValid === undefined ? {} : { tckValid }),
    hex: toHex(bytes),
  });
}
