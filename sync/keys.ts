// The terminal's own Ed25519 key pair for HQ: generated on first use, the private key in a 0600
// file beside the ledger; HQ only ever gets the public key (at registration).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface TerminalKey {
  privateKey: KeyObject;
  /** SPKI DER, base64 — what HQ stores. */
  publicKey: string;
  sign(data: string): string;
}

export function loadOrCreateTerminalKey(path: string): TerminalKey {
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  const privateKey = createPrivateKey(readFileSync(path, 'utf8'));
  const publicKey = (createPublicKey(privateKey).export({ format: 'der', type: 'spki' }) as Buffer).toString('base64');
  return { privateKey, publicKey, sign: (data) => sign(null, Buffer.from(data), privateKey).toString('base64') };
}
