'use strict';
// Process executor only (CODECELL_SLOT_FDS set): /mnt/data, /home/sandbox, /run/codecell/* and /tmp are
// links to /proc/self/fd/3..8 there, so the kernel's cwd and realpath name the run's slot directory, which
// changes every run. This answers with the logical paths instead (docs/security.md, "/mnt/data").

const fs = require('fs');

const LOGICAL_DIRS = ['/mnt/data', '/home/sandbox', '/run/codecell/in', '/run/codecell/out', '/run/codecell/artifacts', '/tmp'];

/** [real slot directory, logical path] for each logical directory that links to one of the slot's descriptors. */
function slotPrefixes(slotFds) {
  const prefixes = [];
  for (const logical of LOGICAL_DIRS) {
    let link;
    let real;
    try {
      link = fs.readlinkSync(logical);
      const fd = /^\/proc\/self\/fd\/(\d+)$/.exec(link)?.[1];
      if (fd === undefined || !slotFds.has(fd)) continue;
      real = fs.readlinkSync(link);
    } catch {
      continue; // not a link here (a Docker container or bubblewrap mounts the real directory)
    }
    if (real.startsWith('/') && real !== logical) prefixes.push([real, logical]);
  }
  return prefixes.sort((a, b) => b[0].length - a[0].length);
}

function logicalMapper(prefixes) {
  return function toLogical(value) {
    if (typeof value !== 'string') return value;
    for (const [real, logical] of prefixes) {
      if (value === real) return logical;
      if (value.startsWith(`${real}/`)) return logical + value.slice(real.length);
    }
    return value;
  };
}

function installSlotPaths(env = process.env) {
  const slotFds = new Set((env.CODECELL_SLOT_FDS ?? '').split(',').filter((fd) => /^\d+$/.test(fd)));
  if (slotFds.size === 0) return;
  const prefixes = slotPrefixes(slotFds);
  if (prefixes.length === 0) return;
  const toLogical = logicalMapper(prefixes);

  const cwd = process.cwd;
  process.cwd = function cwdInSandbox() {
    return toLogical(cwd.call(process));
  };
  const syncMapped = (original) =>
    function realpathInSandbox(...args) {
      return toLogical(original.apply(this, args));
    };
  const callbackMapped = (original) =>
    function realpathInSandbox(...args) {
      const callback = args.at(-1);
      if (typeof callback !== 'function') return original.apply(this, args); // fs throws its own error
      return original.apply(this, [...args.slice(0, -1), (error, resolved) => callback(error, error ? resolved : toLogical(resolved))]);
    };

  const realpathSync = syncMapped(fs.realpathSync);
  realpathSync.native = syncMapped(fs.realpathSync.native);
  fs.realpathSync = realpathSync;
  const realpath = callbackMapped(fs.realpath);
  realpath.native = callbackMapped(fs.realpath.native);
  fs.realpath = realpath;
  const promisesRealpath = fs.promises.realpath;
  fs.promises.realpath = async function realpathInSandbox(...args) {
    return toLogical(await promisesRealpath.apply(this, args));
  };
}

module.exports = { installSlotPaths, logicalMapper };
