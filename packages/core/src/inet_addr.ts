/**
 * IPv4 address text conversions (`inet_pton`/`inet_ntop`), shared by config validation and
 * the protocol packages. Addresses are unsigned 32-bit numbers in host order.
 * @packageDocumentation
 */

/** Parses a dotted quad; returns null when it is not one (no throwing: input is untrusted). */
export function inetAton(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let addr = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    addr = addr * 256 + n;
  }
  return addr >>> 0;
}

/** Formats an address as a dotted quad. */
export function inetNtoa(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/** An address with its prefix length. */
export interface Cidr {
  readonly address: number;
  readonly prefixLen: number;
}

/** Parses `a.b.c.d/len` (len 0..32); a bare address gets /32. Null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const address = inetAton(addrText);
  if (address === null) return null;
  if (slash < 0) return { address, prefixLen: 32 };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,2}$/.test(lenText)) return null;
  const prefixLen = Number(lenText);
  if (prefixLen > 32) return null;
  return { address, prefixLen };
}

/** The netmask of a prefix length, as a u32 (`inet_make_mask`). */
export function inetMakeMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}
