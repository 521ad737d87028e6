// Personal data is sealed field by field (AES-256-GCM) with a key kept outside the database file,
// so a copied ledger shows no names, phones or e-mails. Lookups use keyed blind indexes (HMAC):
// equal inputs give equal tokens, but a token reveals nothing without the key.
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';

export interface PiiKeys {
  seal(plain: unknown): Buffer;
  open<T>(sealed: Buffer): T;
  blindIndex(kind: string, value: string): string;
}

/** Reads the 32-byte master key from `path`, creating it (mode 0600) on first use. */
export function loadOrCreateKeyFile(path: string): Buffer {
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`The ledger key file ${path} is damaged: expected 64 hex digits.`);
    return Buffer.from(hex, 'hex');
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return key;
}

export function piiKeys(master: Buffer): PiiKeys {
  // Key objects, not buffers: Node turns a buffer key into one on every call (a swipe's decryption
  // took a third longer with its tail twice as long).
  const derive = (info: string) => createSecretKey(Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32)));
  const encKey = derive('loyalty-ledger pii seal v1');
  const idxKey = derive('loyalty-ledger blind index v1');
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), body]);
    },
    open<T>(sealed: Buffer): T {
      if (sealed[0] !== 1) throw new Error('Unknown personal-data seal version.');
      const decipher = createDecipheriv('aes-256-gcm', encKey, sealed.subarray(1, 13));
      decipher.setAuthTag(sealed.subarray(13, 29));
      const plain = Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
      return JSON.parse(plain) as T;
    },
    blindIndex(kind, value) {
      return createHmac('sha256', idxKey).update(`${kind}\0${value}`).digest('base64url').slice(0, 16);
    },
  };
}

/** Blind tokens for every prefix (2+ letters) of every word of a name, for FTS prefix search. */
export function nameSearchTokens(keys: PiiKeys, ...parts: (string | undefined)[]): string[] {
  const tokens = new Set<string>();
  for (const word of normalizeNameWords(parts.filter(Boolean).join(' '))) {
    for (let n = 2; n <= Math.min(word.length, 24); n++) tokens.add(nameToken(keys, word.slice(0, n)));
  }
  return [...tokens];
}

export function nameToken(keys: PiiKeys, prefix: string): string {
  // FTS5's ascii tokenizer splits on non-alphanumerics: keep tokens to [A-Za-z0-9].
  return 't' + keys.blindIndex('name', prefix).replace(/[-_]/g, 'x');
}

export function normalizeNameWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/ё/g, 'е')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length >= 2);
}
