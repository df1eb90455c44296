"""bench_auth -- login throughput and the cost of logins to everyone else.

1. Logins per second per password scheme (yescrypt, SHA512-CRYPT,
   bcrypt, SCRAM-SHA-256 stored keys) with AUTH PLAIN, and with the
   SCRAM-SHA-256 mechanism, 32 clients in parallel for a few seconds.
2. The p99 latency of NOOP on 50 established sessions while 500 logins
   run in parallel (target: under 50 ms): hashing runs on the worker's
   thread pool, so the event loop keeps answering.

Uses IMAP if built, else SMTP, else POP3; prints figures, exits 0.
Environment: BENCH_SECONDS (default 4), BENCH_LOGINS (default 500),
BENCH_CAP (default 30: stop the login burst after this many seconds).
"""
import asyncio
import base64
import multiprocessing as mp
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import kurirtest as kt                         # noqa: E402
from authclient import ScramClient, SERVICE    # noqa: E402

SECONDS = float(os.environ.get('BENCH_SECONDS', '4'))
LOGINS = int(os.environ.get('BENCH_LOGINS', '500'))
CAP = float(os.environ.get('BENCH_CAP', '30'))
PROTO = next((p for p in ('imap', 'smtp', 'pop3') if kt.have_module(p)),
             None)
if PROTO is None or not kt.have_module('passwd') or not kt.backends() \
        or not os.path.exists(kt.KURIRD):
    print('bench_auth: skipped (needs kurird, passwd, a protocol and a '
          'storage backend)')
    sys.exit(0)


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


class Client:
    """An asyncio session: greeting read, ready for AUTH."""

    def __init__(self, r, w):
        self.r, self.w, self.n = r, w, 0

    @classmethod
    async def open(cls, port):
        r, w = await asyncio.open_connection('127.0.0.1', port)
        c = cls(r, w)
        await c.line()
        if PROTO == 'smtp':
            c.w.write(b'EHLO bench\r\n')
            while (await c.line())[3:4] == '-':
                pass
        return c

    async def line(self):
        ln = await self.r.readline()
        if not ln:
            raise EOFError
        return ln.decode().rstrip('\r\n')

    async def cmd(self, text):
        if PROTO == 'imap':
            self.n += 1
            tag = 't%d' % self.n
            self.w.write(('%s %s\r\n' % (tag, text)).encode())
            while True:
                ln = await self.line()
                if ln.startswith(tag + ' ') or ln.startswith('+'):
                    return ln
        self.w.write((text + '\r\n').encode())
        while True:
            ln = await self.line()
            if PROTO != 'smtp' or ln[3:4] != '-':
                return ln

    async def answer(self, data):
        self.w.write(((b64(data) if data else '') + '\r\n').encode())
        while True:
            ln = await self.line()
            if PROTO != 'imap' or ln.startswith('t') or ln.startswith('+'):
                return ln

    def ok(self, ln):
        return ln.startswith('235') or ln.startswith('t') and \
            ' OK' in ln[:8] or ln.startswith('+OK')

    def cont(self, ln):
        return ln.startswith('334 ') or ln.startswith('+ ')

    async def plain(self, user, pw):
        verb = 'AUTHENTICATE' if PROTO == 'imap' else 'AUTH'
        return self.ok(await self.cmd('%s PLAIN %s' % (
            verb, b64('\0%s\0%s' % (user, pw)))))

    async def scram(self, user, pw):
        verb = 'AUTHENTICATE' if PROTO == 'imap' else 'AUTH'
        cl = ScramClient(user, pw)
        ln = await self.cmd('%s SCRAM-SHA-256 %s' % (verb, b64(cl.first())))
        if not self.cont(ln):
            return False
        sf = base64.b64decode(ln.split(' ', 1)[1]).decode()
        ln = await self.answer(cl.final(sf))
        if self.cont(ln):
            ln = await self.answer('')
        return self.ok(ln)

    def close(self):
        self.w.close()


async def login_loop(port, how, user, pw, deadline, counts):
    while time.monotonic() < deadline:
        c = await Client.open(port)
        ok = await getattr(c, how)(user, pw)
        counts[ok] = counts.get(ok, 0) + 1
        c.close()


async def throughput(port, how, user, pw, clients=32):
    counts = {}
    t0 = time.monotonic()
    deadline = t0 + SECONDS
    await asyncio.gather(*[login_loop(port, how, user, pw, deadline, counts)
                           for _ in range(clients)])
    return counts.get(True, 0) / (time.monotonic() - t0), \
        counts.get(False, 0)


def server(**overrides):
    opts = {'auth_throttle_exempt': '127.0.0.0/8 ::1'}
    opts.update(overrides)
    return kt.Kurird(storage=kt.backends()[0], protocols=PROTO,
                     overrides=opts)


def bench_schemes():
    print('== logins per second (%s, AUTH PLAIN unless noted, 32 clients, '
          '%.0f s, %d CPUs)' % (PROTO, SECONDS, os.cpu_count()))
    for scheme in ('yescrypt', 'sha512-crypt', 'blf-crypt', 'scram-sha-256'):
        with server(passwd_scheme=scheme) as k:
            k.add_user('bench@localhost', 'benchpw')
            rate, bad = asyncio.run(throughput(k.port(SERVICE[PROTO]),
                                               'plain', 'bench@localhost',
                                               'benchpw'))
            print('%-28s %8.1f logins/s%s' % (
                'PLAIN, ' + scheme, rate,
                '  (%d failed)' % bad if bad else ''))
            if scheme == 'yescrypt':
                rate, bad = asyncio.run(throughput(
                    k.port(SERVICE[PROTO]), 'scram', 'bench@localhost',
                    'benchpw'))
                print('%-28s %8.1f logins/s%s' % (
                    'SCRAM-SHA-256 mechanism', rate,
                    '  (%d failed)' % bad if bad else ''))


def measurer(port, ready, stop, out):
    """Its own process: 50 logged-in sessions, NOOP round robin, one
    blocking round trip at a time, so each latency is the server's
    answer time plus loopback, not the load generator's scheduling."""
    from authclient import Session

    class K:
        def connect(self, service, timeout=30):
            return socket.create_connection(('127.0.0.1', port), timeout)
    sessions = []
    for _ in range(50):
        s = Session(K(), PROTO)
        if PROTO == 'imap':
            s.plain('bench@localhost', 'benchpw')
        elif PROTO == 'pop3':
            s.plaintext_login('bench@localhost', 'benchpw')
        sessions.append(s)
    idle = []
    for i in range(300):
        t0 = time.monotonic()
        sessions[i % 50].noop()
        idle.append(time.monotonic() - t0)
    ready.set()
    loaded = []
    i = 0
    while not stop.is_set():
        t0 = time.monotonic()
        sessions[i % 50].noop()
        loaded.append(time.monotonic() - t0)
        i += 1
    for s in sessions:
        s.close()
    out.put((idle, loaded))


async def login_burst(port, n, cap):
    async def one():
        c = await Client.open(port)
        try:
            return await c.plain('bench@localhost', 'benchpw')
        finally:
            c.close()
    tasks = [asyncio.create_task(one()) for _ in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=cap)
    for t in pending:
        t.cancel()
    return sum(1 for t in done if not t.exception() and t.result())


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] * 1000 if v else float('nan')


def bench_noop():
    for scheme in ('sha512-crypt', 'yescrypt'):
        with server(passwd_scheme=scheme) as k:
            k.add_user('bench@localhost', 'benchpw')
            port = k.port(SERVICE[PROTO])
            ready, stop = mp.Event(), mp.Event()
            q = mp.Queue()
            p = mp.Process(target=measurer, args=(port, ready, stop, q))
            p.start()
            ready.wait(120)
            t0 = time.monotonic()
            ok = asyncio.run(login_burst(port, LOGINS, CAP))
            took = time.monotonic() - t0
            stop.set()
            idle, loaded = q.get(timeout=60)
            p.join()
            print('== NOOP on 50 sessions during %d parallel logins '
                  '(%s, %s)' % (LOGINS, PROTO, scheme))
            print('idle:   p50 %.2f ms  p99 %.2f ms  (%d NOOPs)' % (
                pct(idle, .5), pct(idle, .99), len(idle)))
            print('loaded: p50 %.2f ms  p99 %.2f ms  max %.2f ms  '
                  '(%d NOOPs)' % (pct(loaded, .5), pct(loaded, .99),
                                  pct(loaded, 1.0), len(loaded)))
            print('logins: %d/%d done in %.1f s (%.1f/s)%s; p99 < 50 ms: '
                  '%s' % (ok, LOGINS, took, ok / took,
                          ' (stopped at %d s)' % CAP if ok < LOGINS
                          else '', 'met' if pct(loaded, .99) < 50
                          else 'NOT met'))


if __name__ == '__main__':
    bench_schemes()
    bench_noop()
