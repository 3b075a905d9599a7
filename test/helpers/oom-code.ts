/** Python that starts a child process which allocates until the OOM killer ends it, then reports. */
export const CHILD_MEMORY_BOMB = [
  'import subprocess',
  "child = subprocess.run(['python3', '-c', 'x = []\\nwhile True: x.append(bytearray(8 << 20))'])",
  "print('runner alive, child exit', child.returncode)",
].join('\n');
