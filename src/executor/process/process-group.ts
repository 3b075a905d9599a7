/**
 * The processes of one process group, read from /proc: a process runner's sandbox cannot leave its
 * group (its seccomp filter refuses setsid and setpgid), so the group is every process of the run.
 * Hand-written: Node lists no processes, and the npm packages that do spawn `ps` for each call.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { statFieldsAfterName } from '../../proc-stat.js';

/** The pids in process group `pgid` as this server's /proc shows them now. */
export function processGroupMembers(pgid: number, proc = '/proc'): number[] {
  const members: number[] = [];
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${proc}/${name}/stat`, 'latin1');
    } catch {
      continue; // ended since the listing
    }
    if (groupOf(stat) === pgid) members.push(Number(name));
  }
  return members;
}

/** The process group in a /proc/PID/stat line (its fifth field). */
export function groupOf(stat: string): number | null {
  const pgrp = Number(statFieldsAfterName(stat)[2]);
  return Number.isInteger(pgrp) && pgrp > 0 ? pgrp : null;
}
