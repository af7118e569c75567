/**
 * `listen_ports`: the TCP ports a process listens on, found by looking its
 * sockets' inodes (from the links in /proc/<pid>/fd) up in the TCP tables of
 * its network namespace, each table read once per namespace and collection.
 */
import fs from 'node:fs';
import type { ProcFiles } from './files.js';
import { parseTcpListen, socketInode } from './parse.js';

/** One collection's LISTEN sockets per network namespace: inode → port and its order (tcp, then tcp6, as in the tables). */
export type NetTables = Map<string, Map<number, { port: number; order: number }>>;

/** The LISTEN ports among the sockets of `fds` (the names in the process's fd directory), in table order. */
export function listenPorts(files: ProcFiles, pid: number, fds: readonly string[], nets: NetTables): number[] {
  const base = `${files.proc}/${pid}/`;
  let ns: string;
  try {
    ns = fs.readlinkSync(base + 'ns/net');
  } catch {
    ns = `pid:${pid}`; // no namespace link (synthetic /proc): this process's own tables
  }
  let table = nets.get(ns);
  if (!table) {
    table = new Map();
    let order = 0;
    for (const f of ['tcp', 'tcp6']) {
      for (const l of parseTcpListen(files.text(base + 'net/' + f, 'latin1') ?? '')) table.set(l.inode, { port: l.port, order: order++ });
    }
    nets.set(ns, table);
  }
  if (table.size === 0) return [];
  const found: { port: number; order: number }[] = [];
  for (const fd of fds) {
    let link: string;
    try {
      link = fs.readlinkSync(base + 'fd/' + fd);
    } catch {
      continue; // closed meanwhile
    }
    const inode = socketInode(link);
    const l = inode === undefined ? undefined : table.get(inode);
    if (l) found.push(l);
  }
  return found.sort((a, b) => a.order - b.order).map((l) => l.port);
}
