/**
 * Time budgets for attack probes, scaled to the runtime's measured speed. gVisor's ptrace platform
 * makes every system call, fork and file read many times slower, by a factor that differs from one
 * machine to the next. A fixed limit then cuts probes short, and a cut probe proves nothing. So each
 * test file times one fixed piece of work in its sandbox (CALIBRATION) and multiplies every budget
 * by how much slower than the reference that work ran.
 */

/** The largest time limit any one run gets: the test server's own EXECUTION_TIMEOUT. */
export const MAX_RUN_SECONDS = 600;

/** Budgets never grow beyond this factor, however slow the calibration ran. */
const MAX_SLOWDOWN = 30;

/**
 * Seconds CALIBRATION may take inside a runc sandbox on an ordinary 2-core machine (where this suite
 * was written: 0.13 s in a cold container, 0.02 s warm; gVisor's ptrace platform took 0.4 to 0.7 s).
 * Only the ratio matters: a machine as fast or faster scales by 1.
 */
export const CALIBRATION_REFERENCE_SECONDS = 0.15;

/**
 * Python that does, once, the kinds of work the probes do (forks, execs, a file walk) and prints
 * the seconds it took as a JSON line. Timed inside the sandbox: container start-up is not in it.
 */
export const CALIBRATION = `import json, os, subprocess, time
started = time.monotonic()
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
for _ in range(3):
    subprocess.run(['/bin/true'])
files = 0
for root, _dirs, names in os.walk(os.path.dirname(os.__file__)):
    for name in names:
        try:
            os.stat(os.path.join(root, name)); files += 1
        except OSError:
            pass
print(json.dumps({'seconds': time.monotonic() - started, 'files': files}))`;

/** How many times slower than the reference the calibration ran: at least 1, at most MAX_SLOWDOWN. */
export function slowdownOf(calibrationSeconds: number): number {
  if (!Number.isFinite(calibrationSeconds) || calibrationSeconds <= 0) return 1;
  return Math.min(MAX_SLOWDOWN, Math.max(1, calibrationSeconds / CALIBRATION_REFERENCE_SECONDS));
}

/** `seconds` of an ordinary machine, on this one: scaled, rounded up, within MAX_RUN_SECONDS. */
export function budgetSeconds(seconds: number, slowdown: number): number {
  return Math.min(MAX_RUN_SECONDS, Math.ceil(seconds * slowdown));
}

/**
 * The time limits a probe is tried with: its budget, then three times that for a probe the first
 * limit cut short (the calibration may have run on a quieter moment). Each is larger than the one
 * before; a limit already at the ceiling is not tried twice.
 */
export function probeLimits(seconds: number, slowdown: number): number[] {
  const first = budgetSeconds(seconds, slowdown);
  const second = budgetSeconds(seconds * 3, slowdown);
  return second > first ? [first, second] : [first];
}
