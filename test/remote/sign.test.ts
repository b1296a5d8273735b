/**
 * signWith (src/remote/identities.ts): an Ed25519 signature made with the
 * key parsed once is the very signature ssh2 makes (Ed25519 is
 * deterministic), and verifies; other key types are ssh2's own.
 */
import { describe, expect, it } from 'vitest';
import { utils } from 'ssh2';
import { signWith } from '../../src/remote/identities.js';

const parse = (text: string) => {
  const k = utils.parseKey(text);
  if (k instanceof Error || Array.isArray(k)) throw new Error('unexpected key');
  return k;
};

describe('signWith', () => {
  it('Ed25519: the same signature as ssh2, every time, and it verifies', () => {
    const pair = utils.generateKeyPairSync('ed25519');
    const key = parse(pair.private);
    const pub = parse(pair.public);
    for (const data of [Buffer.from('session id and request'), Buffer.alloc(0), Buffer.alloc(5000, 7)]) {
      const sig = signWith(key, data);
      expect(sig).toEqual(key.sign(data));
      expect(signWith(key, data)).toEqual(sig);
      expect(pub.verify(data, sig)).toBe(true);
      expect(pub.verify(Buffer.concat([data, Buffer.from('x')]), sig)).toBe(false);
    }
  });

  it('ECDSA and RSA go through ssh2 (with the hash asked for)', () => {
    for (const [type, opts, hash] of [['ecdsa', { bits: 256 }, undefined], ['rsa', { bits: 2048 }, 'sha256']] as const) {
      const pair = utils.generateKeyPairSync(type, opts);
      const key = parse(pair.private);
      const pub = parse(pair.public);
      const data = Buffer.from(`data for ${type}`);
      expect(pub.verify(data, signWith(key, data, hash), hash)).toBe(true);
    }
  });
});
