import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Envelope encryption, pure apart from randomness: every secret gets a fresh 256-bit data key;
 * the value is sealed with AES-256-GCM under that data key; the data key is stored only wrapped
 * by a KeyProvider (the local master key, or a KMS key). The secret's name is bound in as
 * additional authenticated data, so a sealed value cannot be moved to another name.
 */

export interface KeyProvider {
  /** Identifies the wrapping key (a fingerprint, or the KMS key ARN); stored beside each secret. */
  readonly keyId: string;
  wrap(dataKey: Buffer): Promise<Buffer>;
  unwrap(wrapped: Buffer, keyId: string): Promise<Buffer>;
}

export interface Sealed {
  key_id: string;
  data_key: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export class SecretCryptoError extends Error {}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { iv, ciphertext, tag: c.getAuthTag() };
}

function gcmOpen(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(aad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ciphertext), d.final()]);
}

export async function seal(provider: KeyProvider, name: string, value: string): Promise<Sealed> {
  const dataKey = randomBytes(32);
  try {
    const { iv, ciphertext, tag } = gcmSeal(dataKey, Buffer.from(value, 'utf8'), Buffer.from(`secret:${name}`));
    return { key_id: provider.keyId, data_key: await provider.wrap(dataKey), iv, ciphertext, tag };
  } finally {
    dataKey.fill(0);
  }
}

export async function open(provider: KeyProvider, name: string, s: Sealed): Promise<string> {
  const dataKey = await provider.unwrap(s.data_key, s.key_id);
  try {
    return gcmOpen(dataKey, s.iv, s.ciphertext, s.tag, Buffer.from(`secret:${name}`)).toString('utf8');
  } catch {
    throw new SecretCryptoError(`secret "${name}" could not be decrypted (tampered with, or sealed under another key)`);
  } finally {
    dataKey.fill(0);
  }
}

/** Fingerprint of a master key: names it in the store without revealing it. */
export function fingerprint(key: Buffer): string {
  return 'local:' + createHash('sha256').update('tollgate-master-key').update(key).digest('hex').slice(0, 16);
}

/** The local master key provider: wraps data keys with AES-256-GCM under a 32-byte master key. */
export function localKeyProvider(masterKey: Buffer): KeyProvider {
  if (masterKey.length !== 32) throw new SecretCryptoError(`the master key must be 32 bytes (got ${masterKey.length})`);
  const keyId = fingerprint(masterKey);
  const aad = Buffer.from('tollgate-data-key');
  return {
    keyId,
    async wrap(dataKey) {
      const { iv, ciphertext, tag } = gcmSeal(masterKey, dataKey, aad);
      return Buffer.concat([iv, tag, ciphertext]);
    },
    async unwrap(wrapped, id) {
      if (id !== keyId) throw new SecretCryptoError(`this data key was wrapped by master key ${id}, but the configured master key is ${keyId}`);
      try {
        return gcmOpen(masterKey, wrapped.subarray(0, 12), wrapped.subarray(28), wrapped.subarray(12, 28), aad);
      } catch {
        throw new SecretCryptoError('a data key could not be unwrapped with the configured master key');
      }
    },
  };
}

/** The minimal KMS surface used: AWS KMS Encrypt/Decrypt, or anything shaped like them. */
export interface KmsClient {
  encrypt(keyId: string, plaintext: Uint8Array): Promise<Uint8Array>;
  decrypt(keyId: string, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** A KMS key as the master key: data keys are wrapped and unwrapped by the KMS, never seen by Tollgate's disk. */
export function kmsKeyProvider(keyId: string, kms: KmsClient): KeyProvider {
  return {
    keyId: `kms:${keyId}`,
    async wrap(dataKey) {
      return Buffer.from(await kms.encrypt(keyId, dataKey));
    },
    async unwrap(wrapped, id) {
      if (!id.startsWith('kms:')) throw new SecretCryptoError(`this data key was wrapped by ${id}, not by a KMS key`);
      return Buffer.from(await kms.decrypt(id.slice(4), wrapped));
    },
  };
}

/** Parses a base64 (or 64-hex) 32-byte master key. */
export function parseMasterKey(text: string, where: string): Buffer {
  const t = text.trim();
  const b = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (b.length !== 32) throw new SecretCryptoError(`${where} must be 32 bytes, base64-encoded (openssl rand -base64 32); got ${b.length} bytes`);
  return b;
}
