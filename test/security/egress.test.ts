/**
 * Egress attacks. Traffic is only ever aimed at loopback: listeners the test starts on the host's
 * 127.0.0.1 and ::1 (which must receive nothing, since a sandbox's loopback is its own), and the
 * sandbox's own loopback. That nothing could leave for any other address is proven instead by
 * what the sandbox has: no interface but lo, and no route.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, random, RUNTIME } from './helpers/harness.js';
import { startHostListeners, type HostListeners } from './helpers/listeners.js';

let h: Harness;
let host: HostListeners;

beforeAll(async () => {
  host = await startHostListeners(random('egress'));
  h = await Harness.start({ pools: { pythonLean: 1, node: 1, bash: 1 } });
});

afterAll(async () => {
  await h?.close();
  await host?.close();
});

afterEach(async () => {
  // Whatever a sandbox sent before the host's own last hits has been counted once those are.
  await host.settle();
  expect(host.total(), 'a host loopback listener received something from a sandbox').toBe(0);
});

describe('the container’s network', () => {
  it('has no interface but lo and no route, for IPv4 or IPv6', async () => {
    const seen = await h.probe(
      'python',
      `import json, os, socket
def lines(path):
    try:
        return open(path).read().splitlines()
    except OSError as e:
        return ['ERR ' + e.strerror]
ipv6_routes = [line.split() for line in lines('/proc/net/ipv6_route') if line.strip()]
print(json.dumps({
  'interfaces': [name for _, name in socket.if_nameindex()],
  'dev': [line.split(':')[0].strip() for line in lines('/proc/net/dev')[2:]],
  'route4': lines('/proc/net/route')[1:],
  'route6_devices': sorted({fields[-1] for fields in ipv6_routes}),
  'route6_default': [f for f in ipv6_routes if f[0] == '0' * 32 and f[1] == '00' and f[-1] != 'lo'],
  'sys_class_net': sorted(os.listdir('/sys/class/net')) if os.path.isdir('/sys/class/net') else None,
}))`,
    );
    expect(seen.interfaces).toEqual(['lo']);
    expect(seen.dev).toEqual(['lo']);
    expect((seen.route4 as string[]).filter((line) => line.trim().length > 0)).toEqual([]);
    for (const device of seen.route6_devices as string[]) expect(device).toBe('lo');
    expect(seen.route6_default).toEqual([]);
    if (seen.sys_class_net !== null) expect(seen.sys_class_net).toEqual(['lo']);
    await h.stillServing();
  });
});

describe('loopback services on the host', () => {
  it('TCP to the host’s 127.0.0.1 and ::1 reaches nothing (Python)', async () => {
    const seen = await h.probe(
      'python',
      `import json, socket
results = {}
for family, address, port in ((socket.AF_INET, '127.0.0.1', ${host.tcp4.port}), (socket.AF_INET6, '::1', ${host.tcp6.port})):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((address, port)); s.sendall(b'exfiltrate'); results[address] = 'connected'
    except OSError as e:
        results[address] = e.strerror or str(e)
    finally:
        s.close()
print(json.dumps(results))`,
    );
    expect(seen['127.0.0.1']).toMatch(/Connection refused/);
    expect(seen['::1']).toMatch(/Connection refused|Cannot assign requested address|Network is unreachable/);
    await h.stillServing();
  });

  it('TCP and HTTP to the host’s loopback reach nothing (Node.js)', async () => {
    const seen = await h.probe(
      'javascript',
      `const net = require('net');
const attempt = (host, port) => new Promise((resolve) => {
  const socket = net.connect({ host, port, timeout: 3000 }, () => { socket.end('exfiltrate'); resolve('connected'); });
  socket.on('error', (error) => resolve(error.code));
  socket.on('timeout', () => { socket.destroy(); resolve('timeout'); });
});
const httpGet = () => new Promise((resolve) => {
  require('http').get('http://127.0.0.1:${host.http4.port}/', (res) => resolve('status ' + res.statusCode)).on('error', (e) => resolve(e.code));
});
(async () => {
  console.log(JSON.stringify({
    tcp4: await attempt('127.0.0.1', ${host.tcp4.port}),
    tcp6: await attempt('::1', ${host.tcp6.port}),
    http: await httpGet(),
    localhost: await attempt('localhost', ${host.tcp4.port}),
  }));
})();`,
    );
    expect(seen.tcp4).toBe('ECONNREFUSED');
    expect(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH']).toContain(seen.tcp6);
    expect(seen.http).toBe('ECONNREFUSED');
    // No /etc/hosts and no resolver: the name does not even resolve.
    expect(['ECONNREFUSED', 'EADDRNOTAVAIL', 'EAI_AGAIN', 'ENOTFOUND']).toContain(seen.localhost);
    await h.stillServing();
  });

  it('UDP to the host’s 127.0.0.1 and ::1 delivers nothing (bash /dev/udp and Python)', async () => {
    const out = await h.exec(
      'bash',
      `for i in 1 2 3; do echo "exfiltrate $i" > /dev/udp/127.0.0.1/${host.udp4.port}; done; echo "bash udp4=$?"
echo exfiltrate > /dev/udp/::1/${host.udp6.port} 2>&1; echo "bash udp6=$?"
echo done`,
    );
    expect(out.stdout).toContain('done');
    const seen = await h.probe(
      'python',
      `import json, socket
sent = {}
for family, address, port in ((socket.AF_INET, '127.0.0.1', ${host.udp4.port}), (socket.AF_INET6, '::1', ${host.udp6.port})):
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sent[address] = s.sendto(b'exfiltrate', (address, port))
    except OSError as e:
        sent[address] = e.strerror
    finally:
        s.close()
print(json.dumps(sent))`,
    );
    // The datagrams may well be "sent": to the sandbox's own loopback, where nobody listens.
    expect(Object.keys(seen)).toEqual(['127.0.0.1', '::1']);
    await h.stillServing();
  });

  it('DNS: the resolver is the sandbox’s own loopback, and queries reach no host listener', async () => {
    const seen = await h.probe(
      'python',
      `import json, socket, struct
nameservers = [l.split()[1] for l in open('/etc/resolv.conf') if l.startswith('nameserver')]
result = {'nameservers': nameservers}
# A real query, by hand, to the host's DNS-shaped listener port and to port 53 on loopback.
query = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b'\\x07example\\x03com\\x00' + struct.pack('>HH', 1, 1)
for port in sorted({${host.dns4.port}, 53}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        s.sendto(query, ('127.0.0.1', port)); s.recvfrom(512); result[str(port)] = 'answered'
    except OSError as e:
        result[str(port)] = e.strerror or 'timeout'
    finally:
        s.close()
# Only when every nameserver is loopback (none listed: glibc then asks 127.0.0.1) does the test
# let the resolver itself try a name.
if all(ns.startswith('127.') or ns == '::1' for ns in nameservers):
    try:
        socket.getaddrinfo('codecell-egress-check.example', 80); result['resolver'] = 'resolved'
    except socket.gaierror as e:
        result['resolver'] = e.strerror
print(json.dumps(result))`,
    );
    // Docker writes no resolv.conf for a container without network: the host's resolver is not named.
    for (const nameserver of seen.nameservers as string[]) expect(nameserver).toMatch(/^127\.|^::1$/);
    for (const port of new Set([host.dns4.port, 53])) expect(seen[String(port)]).not.toBe('answered');
    expect(seen.resolver).not.toBe('resolved');
    expect(seen.resolver).toBeDefined();
    await h.stillServing();
  });

  it('curl and wget to a host loopback web server get nothing', async () => {
    const out = await h.exec(
      'bash',
      `curl -sS -m 3 http://127.0.0.1:${host.http4.port}/ 2>&1; echo "curl=$?"
curl -sS -m 3 'http://[::1]:${host.tcp6.port}/' 2>&1; echo "curl6=$?"
wget -q -T 3 -t 1 -O - http://localhost:${host.http4.port}/ 2>&1; echo "wget=$?"`,
    );
    expect(out.stdout).not.toContain('host secret page');
    expect(out.stdout).toMatch(/curl=7/);
    expect(out.stdout).toMatch(/curl6=7/);
    expect(out.stdout).toMatch(/wget=4/);
    await h.stillServing();
  });

  it('cannot connect to the host’s abstract unix sockets (they belong to the host’s network namespace)', async () => {
    const seen = await h.probe(
      'python',
      `import json, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect('\\0${host.abstractUnix.socketName}'); outcome = 'connected'
except OSError as e:
    outcome = e.strerror
print(json.dumps({'outcome': outcome}))`,
    );
    expect(seen.outcome).toMatch(/Connection refused|No such file or directory/);
    await h.stillServing();
  });
});

describe('raw access to the network', () => {
  it('cannot open raw or packet sockets, nor exotic address families', async () => {
    const seen = await h.probe(
      'python',
      `import json, socket
attempts = {
  'raw icmp': (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
  'raw tcp': (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP),
  'raw ipv6': (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
  'packet': (17, socket.SOCK_RAW, 0x0300),
  'packet dgram': (17, socket.SOCK_DGRAM, 0x0300),
  'alg': (38, socket.SOCK_SEQPACKET, 0),
  'vsock': (40, socket.SOCK_STREAM, 0),
  'tipc': (30, socket.SOCK_RDM, 0),
  'xdp': (44, socket.SOCK_RAW, 0),
}
result = {}
for name, args in attempts.items():
    try:
        socket.socket(*args).close(); result[name] = 'opened'
    except OSError as e:
        result[name] = e.strerror
print(json.dumps(result))`,
    );
    for (const [name, outcome] of Object.entries(seen)) {
      expect(outcome, name).not.toBe('opened');
      if (RUNTIME === 'runc') expect(outcome, name).toBe('Operation not permitted');
    }
    await h.stillServing();
  });

  it('cannot bring an interface up, add an address or a route (no CAP_NET_ADMIN)', async () => {
    const seen = await h.probe(
      'python',
      `import fcntl, json, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
result = {}
SIOCSIFFLAGS, SIOCSIFADDR, SIOCADDRT = 0x8914, 0x8916, 0x890B
try:
    fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack('16sH14x', b'lo', 0)); result['flags'] = 'changed'
except OSError as e:
    result['flags'] = e.strerror
try:
    fcntl.ioctl(s, SIOCSIFADDR, struct.pack('16sH2s4s8x', b'lo', socket.AF_INET, b'\\0\\0', socket.inet_aton('127.0.0.2'))); result['addr'] = 'changed'
except OSError as e:
    result['addr'] = e.strerror
try:
    fcntl.ioctl(s, SIOCADDRT, b'\\0' * 120); result['route'] = 'added'
except OSError as e:
    result['route'] = e.strerror
print(json.dumps(result))`,
    );
    expect(seen.flags).not.toBe('changed');
    expect(seen.addr).not.toBe('changed');
    expect(seen.route).not.toBe('added');
    await h.stillServing();
  });
});
