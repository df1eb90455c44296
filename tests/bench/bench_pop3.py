"""bench_pop3 -- POP3 download throughput and server CPU, per backend.

100 users with 100 messages of about 4 KiB each (put through the storage
ABI with storeput); 20 clients at once; each session is USER/PASS, STAT,
UIDL, RETR of every message, QUIT.  Prints messages/s, MB/s and server
CPU-seconds (kurird master + workers, user + system) per 1,000 messages,
once with one command at a time and once with the RETRs pipelined
(PIPELINING), plus the CPU of the logins alone so the share of password
hashing is visible.

Environment: BENCH_POP3_USERS, BENCH_POP3_MSGS, BENCH_POP3_CONC,
BENCH_POP3_WORKERS override the sizes, BENCH_POP3_SCHEME the password
hash (default sha512-crypt; yescrypt is kurirctl's default).
"""
import multiprocessing
import multiprocessing.pool
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import kurirtest as kt  # noqa: E402
import test_pop3 as tp  # noqa: E402

USERS = int(os.environ.get('BENCH_POP3_USERS', 100))
MSGS = int(os.environ.get('BENCH_POP3_MSGS', 100))
CONC = int(os.environ.get('BENCH_POP3_CONC', 20))
WORKERS = int(os.environ.get('BENCH_POP3_WORKERS', 2))
SCHEME = os.environ.get('BENCH_POP3_SCHEME', 'sha512-crypt')
PASSWORD = 'bench secret'
STOREPUT = os.path.join(kt.BUILDDIR, 'tests', 'integration', 'storeput')


def message():
    """About 4 KiB: headers, then text lines, some starting with dots."""
    head = (b'Return-Path: <sender@example.org>\r\n'
            b'Received: from mx.example.org by localhost; '
            b'Fri, 27 Nov 2026 05:00:00 +0000\r\n'
            b'From: Sender <sender@example.org>\r\n'
            b'To: user@localhost\r\n'
            b'Subject: benchmark message\r\n'
            b'Date: Fri, 27 Nov 2026 05:00:00 +0000\r\n'
            b'Message-ID: <bench@example.org>\r\n'
            b'MIME-Version: 1.0\r\n'
            b'Content-Type: text/plain; charset=us-ascii\r\n\r\n')
    body = b''
    i = 0
    while len(head) + len(body) < 4096 - 80:
        lead = b'.' if i % 10 == 0 else b''
        body += lead + b'Line %04d of the message body, plain text ' \
            b'that wraps at a sane width.\r\n' % i
        i += 1
    return head + body


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), 30)
        self.buf = bytearray()

    def _fill(self):
        chunk = self.s.recv(262144)
        if not chunk:
            raise EOFError('server closed')
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b'\r\n')
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def body(self):
        """A multi-line answer's bytes (status line already read)."""
        start = 0
        while True:
            if self.buf.startswith(b'.\r\n'):
                end = 3
                break
            i = self.buf.find(b'\r\n.\r\n', start)
            if i >= 0:
                end = i + 5
                break
            start = max(0, len(self.buf) - 4)
            self._fill()
        n = end
        del self.buf[:end]
        return n

    def ok(self, cmd=None):
        if cmd is not None:
            self.s.sendall(cmd)
        line = self.line()
        if not line.startswith(b'+OK'):
            raise RuntimeError('%r -> %r' % (cmd, line))
        return line


def session(args):
    """One user's session; returns (messages, octets)."""
    port, user, pipelined, retr = args
    c = Client(port)
    c.ok()
    c.ok(b'USER %s\r\n' % user.encode())
    c.ok(b'PASS %s\r\n' % PASSWORD.encode())
    if not retr:
        c.ok(b'QUIT\r\n')
        c.s.close()
        return 0, 0
    n = int(c.ok(b'STAT\r\n').split()[1])
    c.ok(b'UIDL\r\n')
    c.body()
    octets = 0
    if pipelined:
        c.s.sendall(b''.join(b'RETR %d\r\n' % i for i in range(1, n + 1)))
        for i in range(n):
            c.ok()
            octets += c.body()
    else:
        for i in range(1, n + 1):
            c.ok(b'RETR %d\r\n' % i)
            octets += c.body()
    c.ok(b'QUIT\r\n')
    c.s.close()
    return n, octets


def run(k, users, pipelined, retr=True):
    port = k.port('pop3')
    cpu0 = k.cpu_seconds()
    t0 = time.time()
    with multiprocessing.Pool(CONC) as pool:
        res = pool.map(session, [(port, u, pipelined, retr) for u in users],
                       chunksize=1)
    dt = time.time() - t0
    cpu = k.cpu_seconds() - cpu0
    return sum(r[0] for r in res), sum(r[1] for r in res), dt, cpu


def bench(backend):
    # sha512-crypt (5000 rounds): a login costs a few ms, as with the
    # crypt schemes other servers are measured with; the login-only run
    # below shows what it adds.
    k = kt.Kurird(storage=backend, protocols='pop3', workers=WORKERS,
                  overrides={'auth_throttle_exempt': '127.0.0.0/8',
                             'passwd_scheme': SCHEME,
                             'log_level': 'notice'})
    k.start()
    try:
        users = ['bench%03d@localhost' % i for i in range(USERS)]
        msg = message()
        t0 = time.time()
        # Users one by one (one passwd file), mail in parallel (one
        # store per user; each append is a durable commit).
        for u in users:
            k.add_user(u, PASSWORD)
        with multiprocessing.pool.ThreadPool(8) as pool:
            pool.map(lambda u: tp.storeput(k, u, msg, count=MSGS), users)
        print('%s: %d users x %d messages of %d bytes stored in %.1f s' % (
            backend, USERS, MSGS, len(msg), time.time() - t0))
        # Logins alone: what hashing costs, to read the figures below.
        n, o, dt, cpu = run(k, users, False, retr=False)
        login_cpu = cpu / USERS
        print('%s: logins only: %d sessions in %.2f s, server CPU %.2f s '
              '(%.1f ms per login)' % (backend, USERS, dt, cpu,
                                       1000 * login_cpu))
        for pipelined in (False, True):
            n, o, dt, cpu = run(k, users, pipelined)
            if n != USERS * MSGS:
                raise RuntimeError('retrieved %d of %d' % (n, USERS * MSGS))
            per_k = 1000 * cpu / n
            per_k_nologin = 1000 * (cpu - login_cpu * USERS) / n
            print('%s: %s: %d messages in %.2f s = %.0f messages/s, '
                  '%.1f MB/s; server CPU %.2f s = %.3f CPU-s per 1,000 '
                  'messages (%.3f without the logins)' % (
                      backend, 'pipelined' if pipelined else 'one by one',
                      n, dt, n / dt, o / dt / 1e6, cpu, per_k,
                      per_k_nologin))
    finally:
        k.stop()
        k.cleanup()


def main():
    if not os.path.exists(kt.KURIRD) or not kt.have_module('pop3') or \
            not os.path.exists(STOREPUT):
        print('bench_pop3: skipped (kurird, pop3 or storeput not built)')
        return 0
    for backend in kt.backends():
        bench(backend)
    return 0


if __name__ == '__main__':
    sys.exit(main())
