import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

/**
 * Webhook targets must not be turned against the host's own network (SSRF): private, loopback,
 * link-local, CGNAT, multicast and unspecified addresses are refused unless the operator names the
 * host or a CIDR holding the address in TOLLGATE_WEBHOOK_ALLOWED_HOSTS. The check runs on the
 * address the connection actually uses (a lookup hook of the request), so a name that resolves to a
 * public address at rule creation and a private one at send time (DNS rebinding) is still refused.
 */

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

export interface AllowList {
  hosts: Set<string>;
  nets: BlockList;
  /** As configured, for messages. */
  spec: string[];
}

export function parseAllowList(spec: string | string[] | undefined): AllowList {
  const items = (Array.isArray(spec) ? spec : (spec ?? '').split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const hosts = new Set<string>();
  const nets = new BlockList();
  for (const item of items) {
    const [addr, bitsText] = item.split('/') as [string, string | undefined];
    const bare = addr.replace(/^\[|\]$/g, '');
    const fam = isIP(bare);
    if (fam) {
      const type = fam === 4 ? 'ipv4' : 'ipv6';
      if (bitsText !== undefined) {
        const bits = Number(bitsText);
        if (!Number.isInteger(bits) || bits < 0 || bits > (fam === 4 ? 32 : 128)) throw new Error(`"${item}" is not a valid CIDR`);
        nets.addSubnet(bare, bits, type);
      } else nets.addAddress(bare, type);
    } else {
      if (bitsText !== undefined) throw new Error(`"${item}" is not a valid CIDR`);
      hosts.add(bare);
    }
  }
  return { hosts, nets, spec: items };
}

/** An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries. */
function normalise(ip: string): { ip: string; type: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (m) return { ip: m[1]!, type: 'ipv4' };
  return { ip, type: isIP(ip) === 6 ? 'ipv6' : 'ipv4' };
}

export function isPrivateAddress(ip: string): boolean {
  const n = normalise(ip);
  return PRIVATE.check(n.ip, n.type);
}

/** Why a connection to `ip` (for the URL host `host`) is refused, or null when it may go ahead. */
export function refusal(host: string, ip: string, allow: AllowList): string | null {
  if (!isPrivateAddress(ip)) return null;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (allow.hosts.has(h)) return null;
  const n = normalise(ip);
  if (allow.nets.check(n.ip, n.type)) return null;
  return (
    `webhook target ${host}${h === ip ? '' : ` (${ip})`} is a private, loopback or link-local address; ` +
    `name it in TOLLGATE_WEBHOOK_ALLOWED_HOSTS (hosts or CIDRs, e.g. 127.0.0.1) to allow it`
  );
}

export class TargetRefused extends Error {
  readonly code = 'WEBHOOK_TARGET_REFUSED';
}

type LookupCb = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that resolves the name and refuses a disallowed address, so the
 * socket connects to exactly the address that was checked.
 */
export function guardedLookup(allow: AllowList) {
  return (hostname: string, options: { all?: boolean; family?: number } | number, cb: LookupCb) => {
    const opts = typeof options === 'number' ? { family: options } : (options ?? {});
    dnsLookup(hostname, { all: true, family: opts.family ?? 0 }, (err, addresses) => {
      if (err) return cb(err, opts.all ? [] : '', 0);
      const list = addresses as LookupAddress[];
      for (const a of list) {
        const why = refusal(hostname, a.address, allow);
        if (why) return cb(new TargetRefused(why) as NodeJS.ErrnoException, opts.all ? [] : '', 0);
      }
      if (opts.all) cb(null, list);
      else cb(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** Resolves a host (or takes an IP literal) to its addresses. */
export function resolveAll(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return Promise.resolve([bare]);
  return new Promise((resolve, reject) => dnsLookup(bare, { all: true }, (err, a) => (err ? reject(err) : resolve((a as LookupAddress[]).map((x) => x.address)))));
}

/**
 * The check at rule creation: a clear refusal when the URL points at a disallowed address now.
 * A name that does not resolve yet is accepted (it is checked again at every send).
 */
export async function checkTarget(url: string, allow: AllowList): Promise<string | null> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `webhook URLs must be http:// or https:// (got ${u.protocol})`;
  if (u.username || u.password) return 'webhook URLs must not carry credentials; use the secret to sign instead';
  let addrs: string[];
  try {
    addrs = await resolveAll(u.hostname);
  } catch {
    return null;
  }
  for (const ip of addrs) {
    const why = refusal(u.hostname, ip, allow);
    if (why) return why;
  }
  return null;
}
