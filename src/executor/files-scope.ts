/**
 * The window in which the engine reads a session's files where a run left them (executor.ts's
 * InspectFiles). `putBack` starts at once, so the sandbox can be killed while the files are read, and
 * is handed `inspected`: it must not move the files before that resolves, which happens when
 * `inspect` settles, whichever way. So no path can keep the files from going back.
 */
export async function inspectThenPutBack<T>(
  inspect: () => Promise<T>,
  putBack: (inspected: Promise<void>) => Promise<void>,
): Promise<{ inspected: T; settled: Promise<void> }> {
  let done!: () => void;
  const inspected = new Promise<void>((resolve) => (done = resolve));
  const settled = putBack(inspected);
  // Whoever gets `settled` sees its failure; until then it must not count as unhandled.
  settled.catch(() => undefined);
  let value: T;
  try {
    value = await inspect();
  } catch (error) {
    done();
    await settled;
    throw error;
  }
  done();
  return { inspected: value, settled };
}
