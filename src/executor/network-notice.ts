/**
 * Execution containers have no network (container-spec.ts), and the process executor's runs may not
 * open inet sockets at all (EAFNOSUPPORT, "Address family not supported"). A run that tried to reach the internet
 * fails with the resolver's or the socket's words ("Temporary failure in name resolution", "fetch
 * failed: getaddrinfo EAI_AGAIN …", "curl: (6) Could not resolve host"), which read like a passing
 * outage and invite retries; this names the real cause.
 *
 * Only the shapes the real errors have are matched (errno-tagged Python messages, Node's syscall
 * codes, the prefixes curl, wget, git and ssh print), in the error and in stderr, never in stdout:
 * a program's own message that merely mentions the network is not enough. Failures that stay on
 * the container's loopback (a server the run started itself) are the program's, not the network's.
 */

interface FailureShape {
  readonly kind: 'lookup' | 'connect';
  readonly pattern: RegExp;
}

const HOST = String.raw`([A-Za-z0-9_.:\[\]-]{1,253})`;
const CURL_START = String.raw`(?:^|(?<=[0-9kMGTP]))`;

const SHAPES: readonly FailureShape[] = [
  // Python (socket.gaierror, and urllib, urllib3/requests, httpx and pandas wrapping it)
  { kind: 'lookup', pattern: /\[Errno -[2-5]\] (?:Temporary failure in name resolution|Name or service not known|Non-recoverable failure in name resolution|No address associated with hostname)/ },
  // (97: the process executor's seccomp filter refuses every inet socket, src/executor/process)
  { kind: 'connect', pattern: /\[Errno (?:101|113|97)\] (?:Network is unreachable|No route to host|Address family not supported by protocol)/ },
  // Node (dns, net, http, and fetch's cause: images/node/lib/limits.js puts it in the message)
  { kind: 'lookup', pattern: new RegExp(String.raw`\bgetaddrinfo (?:ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NODATA|EAI_NONAME) ${HOST}`) },
  { kind: 'connect', pattern: new RegExp(String.raw`\bconnect (?:ENETUNREACH|EHOSTUNREACH|ECONNREFUSED|EAFNOSUPPORT) ${HOST}`) },
  // command-line tools, as the first words of a line of stderr; curl's progress meter (shown unless
  // -s) ends without a newline, so its error may follow the meter's last column (a speed: 0, 12.3k).
  { kind: 'lookup', pattern: new RegExp(String.raw`${CURL_START}curl: \(6\) Could not resolve host: ${HOST}`, 'm') },
  { kind: 'connect', pattern: new RegExp(String.raw`${CURL_START}curl: \(7\) Failed to connect to ${HOST}`, 'm') },
  { kind: 'lookup', pattern: new RegExp(String.raw`^wget: unable to resolve host address [‘'"]?${HOST}`, 'm') },
  { kind: 'lookup', pattern: new RegExp(String.raw`^fatal: unable to access '[^'\n]*': Could not resolve host: ${HOST}`, 'm') },
  { kind: 'lookup', pattern: new RegExp(String.raw`^ssh: Could not resolve hostname ${HOST}`, 'm') },
];

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|::1|\[::1\]|0\.0\.0\.0)(?::\d+)?$/i;

/** Every occurrence is looked at: a loopback failure printed first must not hide a real one after it. */
const SHAPES_EVERYWHERE: readonly FailureShape[] = SHAPES.map((shape) => ({
  kind: shape.kind,
  pattern: new RegExp(shape.pattern.source, `${shape.pattern.flags}g`),
}));

export interface RunTexts {
  /** The error the runner reported (name, message, traceback), when the code raised one. */
  readonly error: { readonly name: string; readonly message: string; readonly traceback: string } | null;
  readonly stderr: string;
}

/** The notice for a run that failed on the missing network, or null. */
export function networkNotice(run: RunTexts): string | null {
  const texts = [...(run.error ? [run.error.message, run.error.traceback] : []), run.stderr];
  for (const text of texts) {
    for (const shape of SHAPES_EVERYWHERE) {
      for (const match of text.matchAll(shape.pattern)) {
        const host = match[1]?.replace(/[.:]+$/, '');
        if (host !== undefined && LOOPBACK.test(host)) continue;
        return sentence(shape.kind, host);
      }
    }
  }
  return null;
}

function sentence(kind: FailureShape['kind'], host: string | undefined): string {
  const what = kind === 'lookup' ? 'a DNS lookup' : 'a connection';
  const where = host === undefined ? '' : kind === 'lookup' ? ` of ${host}` : ` to ${host}`;
  return (
    `This sandbox has no network access (${what}${where} failed): nothing can be downloaded or installed here, ` +
    "and retrying will not help. Upload the data to the session's files instead and read it from /mnt/data."
  );
}
