import { randomBytes, createCipheriv, createDecipheriv } from 'node:crypto';
import type { KmsClient } from '../../src/secrets/crypto.ts';

/** A fake KMS with its own key: same interface as AWS KMS Encrypt/Decrypt. */
export function fakeKms(): KmsClient & { calls: number } {
  const keys = new Map<string, Buffer>();
  const k = (id: string) => keys.get(id) ?? (keys.set(id, randomBytes(32)), keys.get(id)!);
  const st = { calls: 0 };
  return {
    get calls() { return st.calls; },
    async encrypt(id, pt) {
      st.calls++;
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', k(id), iv);
      const ct = Buffer.concat([c.update(pt), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), ct]);
    },
    async decrypt(id, blob) {
      st.calls++;
      const b = Buffer.from(blob);
      const d = createDecipheriv('aes-256-gcm', k(id), b.subarray(0, 12));
      d.setAuthTag(b.subarray(12, 28));
      return Buffer.concat([d.update(b.subarray(28)), d.final()]);
    },
  };
}

