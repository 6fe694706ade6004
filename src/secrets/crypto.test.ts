import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { kmsKeyProvider, localKeyProvider, open, seal, parseMasterKey } from './crypto.ts';
import { fakeKms } from '../../test/gateway/fake-kms.ts';

describe('envelope encryption', () => {
  it('round-trips any value under the local master key and a KMS key (property)', async () => {
    const local = localKeyProvider(randomBytes(32));
    const kms = kmsKeyProvider('arn:aws:kms:us-east-1:1:key/abc', fakeKms());
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.stringMatching(/^[a-z0-9]{1,20}$/), async (value, name) => {
        for (const p of [local, kms]) expect(await open(p, name, await seal(p, name, value))).toBe(value);
      }),
      { numRuns: 50 },
    );
  });

  it('uses a fresh data key and nonce per seal; the ciphertext never holds the value', async () => {
    const p = localKeyProvider(randomBytes(32));
    const a = await seal(p, 'x', 'sk-secret-value');
    const b = await seal(p, 'x', 'sk-secret-value');
    expect(a.data_key.equals(b.data_key)).toBe(false);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.toString('utf8')).not.toContain('sk-secret');
  });

  it('rejects tampering, a moved secret and a wrong master key', async () => {
    const p = localKeyProvider(randomBytes(32));
    const s = await seal(p, 'a', 'v');
    await expect(open(p, 'b', s)).rejects.toThrow(/could not be decrypted/);
    await expect(open(p, 'a', { ...s, ciphertext: Buffer.from([s.ciphertext[0]! ^ 1]) })).rejects.toThrow();
    await expect(open(localKeyProvider(randomBytes(32)), 'a', s)).rejects.toThrow(/master key/);
  });

  it('parses base64 and hex master keys and names a bad one', () => {
    const k = randomBytes(32);
    expect(parseMasterKey(k.toString('base64'), 'K').equals(k)).toBe(true);
    expect(parseMasterKey(k.toString('hex'), 'K').equals(k)).toBe(true);
    expect(() => parseMasterKey('c2hvcnQ=', 'TOLLGATE_MASTER_KEY')).toThrow(/TOLLGATE_MASTER_KEY must be 32 bytes/);
  });
});
