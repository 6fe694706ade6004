import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import type { KmsClient } from './crypto.ts';

/** AWS credentials as kept in a secret: JSON {access_key_id, secret_access_key, session_token?} or "AKID:SECRET". */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export function parseAwsCredentials(value: string): AwsCredentials {
  const t = value.trim();
  if (t.startsWith('{')) {
    const j = JSON.parse(t) as Record<string, string>;
    const accessKeyId = j.access_key_id ?? j.accessKeyId ?? j.AccessKeyId;
    const secretAccessKey = j.secret_access_key ?? j.secretAccessKey ?? j.SecretAccessKey;
    const sessionToken = j.session_token ?? j.sessionToken ?? j.SessionToken;
    if (!accessKeyId || !secretAccessKey) throw new Error('AWS credentials need access_key_id and secret_access_key');
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  }
  const i = t.indexOf(':');
  if (i <= 0) throw new Error('AWS credentials must be JSON {access_key_id, secret_access_key} or "AKID:SECRET"');
  return { accessKeyId: t.slice(0, i), secretAccessKey: t.slice(i + 1) };
}

export interface SignInput {
  service: string;
  region: string;
  credentials: AwsCredentials;
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | Uint8Array;
  signingDate?: Date;
}

/** SigV4-signs a request with the maintained AWS signer; returns the headers to send. */
export async function signAws(i: SignInput): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: i.service, region: i.region, credentials: i.credentials, sha256: Sha256, uriEscapePath: true });
  const query: Record<string, string> = {};
  i.url.searchParams.forEach((v, k) => (query[k] = v));
  const req = new HttpRequest({
    method: i.method,
    protocol: i.url.protocol,
    hostname: i.url.hostname,
    port: i.url.port ? Number(i.url.port) : undefined,
    path: i.url.pathname,
    query,
    headers: { ...i.headers, host: i.url.host },
    body: i.body,
  });
  const signed = await signer.sign(req, i.signingDate ? { signingDate: i.signingDate } : undefined);
  return signed.headers as Record<string, string>;
}

/** AWS KMS Encrypt/Decrypt over its JSON API, signed with SigV4 (no AWS SDK needed). */
export function awsKmsClient(opts: { region: string; credentials: AwsCredentials; endpoint?: string }): KmsClient {
  const url = new URL(opts.endpoint ?? `https://kms.${opts.region}.amazonaws.com/`);
  const call = async (target: string, payload: Record<string, string>): Promise<Record<string, string>> => {
    const body = JSON.stringify(payload);
    const headers = await signAws({
      service: 'kms',
      region: opts.region,
      credentials: opts.credentials,
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${target}` },
      body,
    });
    const res = await fetch(url, { method: 'POST', headers, body });
    const text = await res.text();
    if (!res.ok) throw new Error(`KMS ${target} failed with HTTP ${res.status}`);
    return JSON.parse(text) as Record<string, string>;
  };
  return {
    async encrypt(keyId, plaintext) {
      const r = await call('Encrypt', { KeyId: keyId, Plaintext: Buffer.from(plaintext).toString('base64') });
      return Buffer.from(r.CiphertextBlob!, 'base64');
    },
    async decrypt(keyId, ciphertext) {
      const r = await call('Decrypt', { KeyId: keyId, CiphertextBlob: Buffer.from(ciphertext).toString('base64') });
      return Buffer.from(r.Plaintext!, 'base64');
    },
  };
}
