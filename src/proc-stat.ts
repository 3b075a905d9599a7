/**
 * The fields of a /proc/PID/stat (or task stat) line after the command name, starting with the
 * state: "pid (comm) state ppid pgrp …". The command name may hold spaces and parentheses, so the
 * fields are counted from its last ")". Hand-written: two fields of a kernel text format.
 */
export function statFieldsAfterName(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
