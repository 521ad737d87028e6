// BER-TLV (ISO/IEC 8825-1 as used by ISO 7816-4 and EMV): multi-byte tags, short and long-form
// lengths, constructed tags parsed recursively. Pure; every malformed input is a typed error.
import { toHex } from './bytes';
import { fail, ok, type Result } from './result';

export interface TlvNode {
  /** Tag as upper-case hex of all its bytes, e.g. "5A", "9F02", "DF8101". */
  tag: string;
  constructed: boolean;
  value: Uint8Array;
  /** The nested nodes of a constructed tag. */
  children?: TlvNode[];
}

const MAX_DEPTH = 8;

export function parseTlv(bytes: Uint8Array, depth = 0): Result<TlvNode[]> {
  if (depth > MAX_DEPTH) return fail('tlv', `nesting deeper than ${MAX_DEPTH}`);
  const nodes: TlvNode[] = [];
  let i = 0;
  while (i < bytes.length) {
    const first = bytes[i]!;
    // 0x00 and 0xFF between objects are padding (ISO 7816-4 §5.2.2.1).
    if (first === 0x00 || first === 0xff) {
      i++;
      continue;
    }
    const tagStart = i++;
    if ((first & 0x1f) === 0x1f) {
      // Subsequent tag bytes: b8 set means another follows; at most 3 more bytes.
      let more = 0;
      for (;;) {
        if (i >= bytes.length) return fail('tlv', `tag at ${tagStart} is cut off`);
        const b = bytes[i++]!;
        if (++more > 3) return fail('tlv', `tag at ${tagStart} is longer than 4 bytes`);
        if ((b & 0x80) === 0) break;
      }
    }
    const tag = toHex(bytes.subarray(tagStart, i));
    if (i >= bytes.length) return fail('tlv', `length of tag ${tag} is missing`);
    let length = bytes[i++]!;
    if (length === 0x80) return fail('tlv', `indefinite length (tag ${tag}) is not allowed`);
    if (length > 0x80) {
      const n = length & 0x7f;
      if (n > 3) return fail('tlv', `length of tag ${tag} uses ${n} bytes`);
      if (i + n > bytes.length) return fail('tlv', `length of tag ${tag} is cut off`);
      length = 0;
      for (let k = 0; k < n; k++) length = length * 256 + bytes[i++]!;
    }
    if (i + length > bytes.length) return fail('tlv', `tag ${tag} declares ${length} bytes, ${bytes.length - i} remain`);
    const value = bytes.slice(i, i + length);
    i += length;
    const constructed = (first & 0x20) !== 0;
    if (constructed) {
      const children = parseTlv(value, depth + 1);
      if (!children.ok) return children;
      nodes.push({ tag, constructed, value, children: children.value });
    } else nodes.push({ tag, constructed, value });
  }
  return ok(nodes);
}

/** Depth-first search for the first node with this tag. */
export function findTag(nodes: readonly TlvNode[], tag: string): TlvNode | undefined {
  const want = tag.toUpperCase();
  for (const node of nodes) {
    if (node.tag === want) return node;
    const inner = node.children && findTag(node.children, want);
    if (inner) return inner;
  }
  return undefined;
}

/** Encodes one TLV object (the inverse of parseTlv, used by the reader emulator and tests). */
export function encodeTlv(tagHex: string, value: Uint8Array): Uint8Array {
  const tag = tagHex.match(/../g)!.map((h) => parseInt(h, 16));
  const len = value.length;
  const lenBytes = len < 0x80 ? [len] : len < 0x100 ? [0x81, len] : len < 0x10000 ? [0x82, len >> 8, len & 0xff] : [0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(tag.length + lenBytes.length + len);
  out.set(tag, 0);
  out.set(lenBytes, tag.length);
  out.set(value, tag.length + lenBytes.length);
  return out;
}

/** Packed BCD digits with trailing F padding (EMV tag 5A style) → the digit string. */
export function bcdDigits(value: Uint8Array): Result<string> {
  let out = '';
  for (const b of value) {
    for (const nibble of [b >> 4, b & 15]) {
      if (nibble === 0xf) return out ? ok(out) : fail('tlv', 'empty BCD number');
      if (nibble > 9) return fail('tlv', 'non-decimal BCD digit');
      out += String(nibble);
    }
  }
  return out ? ok(out) : fail('tlv', 'empty BCD number');
}

export function digitsToBcd(digits: string): Uint8Array {
  const padded = digits.length % 2 ? digits + 'F' : digits;
  return Uint8Array.from(padded.match(/../g)!.map((p) => parseInt(p, 16)));
}
