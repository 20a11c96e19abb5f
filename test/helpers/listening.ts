/** Which addresses a process listens on, read from /proc (Linux): to check that a server binds loopback only. */
import * as fs from 'node:fs';

/** `a.b.c.d` from /proc/net/tcp's little-endian hex word. */
function ipv4(hex: string): string {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
}

/** /proc/net/tcp6's address: `::1`, `::`, a v4-mapped address as IPv4, else the raw hex. */
function ipv6(hex: string): string {
  if (/^0{24}01000000$/i.test(hex)) return '::1';
  if (/^0{32}$/.test(hex)) return '::';
  if (/^0{16}FFFF0000/i.test(hex)) return ipv4(hex.slice(24));
  return `ipv6:${hex}`;
}

/** `ip:port` of every TCP socket `pid` listens on (IPv4 and IPv6). */
export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const out: string[] = [];
  for (const [file, decode] of [
    ['/proc/net/tcp', ipv4],
    ['/proc/net/tcp6', ipv6],
  ] as const) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      // sl, local_address, rem_address, st (0A = LISTEN), tx:rx, tr:when, retrnsmt, uid, timeout, inode, ...
      const [, local = '', , state, , , , , , inode = ''] = line.trim().split(/\s+/);
      if (state !== '0A' || !inodes.has(inode)) continue;
      const [addr = '', port = ''] = local.split(':');
      out.push(`${decode(addr)}:${parseInt(port, 16)}`);
    }
  }
  return out;
}
