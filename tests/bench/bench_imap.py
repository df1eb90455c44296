#!/usr/bin/env python3
"""IMAP benchmark (make bench), per storage backend.

1. A big mailbox: BENCH_IMAP_BIG (10,000) messages of about 4 KiB
   appended with pipelined LITERAL+ APPENDs, then one session times
   UID FETCH 1:* (FLAGS ENVELOPE) (first run parses every message and
   fills the cache blob; the second reads the cache), UID FETCH 1:*
   (BODY.PEEK[]) (full bodies) and SEARCH TEXT over the whole mailbox.
2. BENCH_IMAP_SESSIONS (20) concurrent sessions (client processes),
   each on its own user with BENCH_IMAP_PER_USER (500) messages, each
   doing BENCH_IMAP_ROUNDS (2) rounds of LOGIN, SELECT INBOX,
   UID FETCH 1:* (FLAGS BODY.PEEK[]), UID STORE 1:* +FLAGS (\\Seen),
   LOGOUT: messages/s and the server's CPU-seconds (master and workers,
   utime+stime) per 1,000 messages.
3. In a restarted server: the time from the SMTP 250 after DATA to the
   "* n EXISTS" seen by a session in IDLE, BENCH_IMAP_LATENCY (200)
   samples, p50 and p99.
4. BENCH_IMAP_IDLE (2,000) sessions logged in, INBOX (20 messages)
   selected, in IDLE: the server's proportional set size (PSS, summed
   over master and workers from /proc/PID/smaps_rollup) per session,
   against the server before they connected.  Then the 250-to-EXISTS
   latency again with all of them idling.

The issue asks for 10,000 idle sessions; the default is 2,000 because
the test machine is shared (2 cores); BENCH_IMAP_IDLE=10000 runs the
full count where the machine allows it.  BENCH_IMAP_BACKENDS="lmdb"
limits the backends, BENCH_IMAP_PHASES="big sessions latency idle" the
parts that run.
"""
import multiprocessing
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('KURIR_SRCDIR', '.'),
                                'tests', 'integration'))
import kurirtest as kt  # noqa: E402

BIG = int(os.environ.get('BENCH_IMAP_BIG', '10000'))
SESSIONS = int(os.environ.get('BENCH_IMAP_SESSIONS', '20'))
PER_USER = int(os.environ.get('BENCH_IMAP_PER_USER', '500'))
ROUNDS = int(os.environ.get('BENCH_IMAP_ROUNDS', '2'))
IDLE = int(os.environ.get('BENCH_IMAP_IDLE', '2000'))
IDLE_USERS = int(os.environ.get('BENCH_IMAP_IDLE_USERS', '100'))
LATENCY = int(os.environ.get('BENCH_IMAP_LATENCY', '200'))
PHASES = os.environ.get('BENCH_IMAP_PHASES',
                        'big sessions latency idle').split()
PASSWORD = 'benchpass'
# LOGIN verifies a password hash; the default yescrypt costs tens of
# milliseconds of CPU per login, which the per-message CPU figure of
# 500-message sessions would mostly measure.  sha512-crypt (5000 rounds,
# cheaper) is the default here; BENCH_IMAP_SCHEME="" keeps the server's
# default.
SCHEME = os.environ.get('BENCH_IMAP_SCHEME', 'sha512-crypt')


def body(i, needle=False):
    head = ('From: Sender %d <bench%d@remote.example>\r\n'
            'To: Some User <user@localhost>\r\nCc: cc%d@remote.example\r\n'
            'Subject: benchmark message %d\r\n'
            'Date: Fri, 27 Nov 2026 10:%02d:00 +0000\r\n'
            'Message-ID: <%d@bench>\r\n\r\n' % (i, i, i, i, i % 60, i))
    line = 'The quick brown fox jumps over the lazy dog %08d.\r\n' % i
    text = head + line * ((4096 - len(head)) // len(line))
    if needle:
        text += 'a rare needle in the hay\r\n'
    return text.encode()


class Client:
    """A minimal raw IMAP client that skips literals without parsing."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), 120)
        self.buf = bytearray()
        self.pos = 0
        self.n = 0
        self.line()

    def fill(self):
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError('server closed')
        self.buf += chunk

    def line(self):
        while True:
            eol = self.buf.find(b'\r\n', self.pos)
            if eol >= 0:
                ln = bytes(self.buf[self.pos:eol])
                self.pos = eol + 2
                return ln
            self.fill()

    def response(self, tag):
        """Read to the tagged reply: (reply, untagged FETCH count)."""
        t = tag.encode() + b' '
        nfetch = 0
        first = True
        while True:
            ln = self.line()
            if first and ln.startswith(b'* ') and b' FETCH ' in ln[:24]:
                nfetch += 1
            first = True
            if ln.endswith(b'}'):
                n = int(ln[ln.rfind(b'{') + 1:-1].rstrip(b'+'))
                while len(self.buf) - self.pos < n:
                    self.fill()
                self.pos += n
                first = False
                continue
            if ln.startswith(t):
                return ln, nfetch

    def cmd(self, text):
        self.n += 1
        tag = 'b%d' % self.n
        self.sock.sendall(('%s %s\r\n' % (tag, text)).encode())
        reply, nfetch = self.response(tag)
        if not reply.startswith(tag.encode() + b' OK'):
            raise RuntimeError('%s: %r' % (text, reply))
        return reply, nfetch

    def append_many(self, msgs, batch=200):
        """Pipelined LITERAL+ APPENDs, batch at a time."""
        for i in range(0, len(msgs), batch):
            part = msgs[i:i + batch]
            out = []
            tags = []
            for m in part:
                self.n += 1
                tags.append('a%d' % self.n)
                out.append(b'%s APPEND INBOX {%d+}\r\n%s\r\n' % (
                    tags[-1].encode(), len(m), m))
            self.sock.sendall(b''.join(out))
            for t in tags:
                reply, _ = self.response(t)
                if b' OK' not in reply:
                    raise RuntimeError('APPEND: %r' % reply)

    def close(self):
        self.sock.close()


def fill_user(port, user, msgs):
    c = Client(port)
    c.cmd('LOGIN %s %s' % (user, PASSWORD))
    c.append_many(msgs)
    c.cmd('LOGOUT')
    c.close()


def pss_kib(k):
    """(total, anonymous, file-backed) PSS of master and workers, KiB."""
    tot = {'Pss:': 0, 'Pss_Anon:': 0, 'Pss_File:': 0}
    for pid in k.pids_in_group():
        try:
            with open('/proc/%d/smaps_rollup' % pid) as f:
                for ln in f:
                    w = ln.split()
                    if w and w[0] in tot:
                        tot[w[0]] += int(w[1])
        except OSError:
            pass
    return tot['Pss:'], tot['Pss_Anon:'], tot['Pss_File:']


def big_mailbox(k, backend):
    user = 'big@localhost'
    k.add_user(user, PASSWORD)
    msgs = [body(i, needle=(i % 1000 == 7)) for i in range(BIG)]
    t0 = time.time()
    procs = []
    nproc = 4
    for p in range(nproc):
        # four connections in parallel, each its own share
        pr = multiprocessing.Process(target=fill_user, args=(
            k.port('imap'), user, msgs[p::nproc]))
        pr.start()
        procs.append(pr)
    for pr in procs:
        pr.join()
        if pr.exitcode != 0:
            raise RuntimeError('append failed')
    dt = time.time() - t0
    print('imap %-8s APPEND %d x %d B (4 pipelined sessions): %.1f s, '
          '%.0f messages/s' % (backend, BIG, len(msgs[0]), dt, BIG / dt))
    c = Client(k.port('imap'))
    c.cmd('LOGIN %s %s' % (user, PASSWORD))
    c.cmd('SELECT INBOX')
    for what, item in (('FLAGS ENVELOPE, first (parse + cache)',
                        '(FLAGS ENVELOPE)'),
                       ('FLAGS ENVELOPE, cached', '(FLAGS ENVELOPE)'),
                       ('FLAGS BODYSTRUCTURE, cached',
                        '(FLAGS BODYSTRUCTURE)'),
                       ('BODY.PEEK[] (full bodies)', '(BODY.PEEK[])')):
        cpu0 = k.cpu_seconds()
        t0 = time.time()
        _, n = c.cmd('UID FETCH 1:* %s' % item)
        dt = time.time() - t0
        cpu = k.cpu_seconds() - cpu0
        if n != BIG:
            raise RuntimeError('fetched %d of %d' % (n, BIG))
        print('imap %-8s UID FETCH 1:* %s: %.2f s, %.0f messages/s, '
              '%.3f server CPU-s per 1000' % (backend, what, dt, n / dt,
                                               cpu * 1000 / n))
    for key in ('TEXT "rare needle"', 'BODY "rare needle"',
                'SUBJECT "message 77"'):
        t0 = time.time()
        c.sock.sendall(b'S1 SEARCH %s\r\n' % key.encode())
        hits = None
        while True:
            ln = c.line()
            if ln.startswith(b'* SEARCH'):
                hits = len(ln.split()) - 2
            if ln.startswith(b'S1 '):
                break
        dt = time.time() - t0
        print('imap %-8s SEARCH %s over %d messages: %.2f s (%.0f '
              'messages/s), %s hits' % (backend, key, BIG, dt, BIG / dt,
                                        hits))
    c.cmd('LOGOUT')
    c.close()


def session_worker(port, user, rounds, q):
    try:
        n = 0
        for _ in range(rounds):
            c = Client(port)
            c.cmd('LOGIN %s %s' % (user, PASSWORD))
            c.cmd('SELECT INBOX')
            _, got = c.cmd('UID FETCH 1:* (FLAGS BODY.PEEK[])')
            c.cmd('UID STORE 1:* +FLAGS (\\Seen)')
            c.cmd('LOGOUT')
            c.close()
            n += got
        q.put(n)
    except Exception as e:  # noqa: BLE001
        q.put(repr(e))


def concurrent_sessions(k, backend):
    users = ['s%02d@localhost' % i for i in range(SESSIONS)]
    for u in users:
        k.add_user(u, PASSWORD)
    msgs = [body(i) for i in range(PER_USER)]
    procs = []
    for u in users:
        pr = multiprocessing.Process(target=fill_user, args=(
            k.port('imap'), u, msgs))
        pr.start()
        procs.append(pr)
    for pr in procs:
        pr.join()
    q = multiprocessing.Queue()
    cpu0 = k.cpu_seconds()
    t0 = time.time()
    procs = [multiprocessing.Process(target=session_worker, args=(
        k.port('imap'), u, ROUNDS, q)) for u in users]
    for pr in procs:
        pr.start()
    results = [q.get() for _ in procs]
    for pr in procs:
        pr.join()
    dt = time.time() - t0
    cpu = k.cpu_seconds() - cpu0
    bad = [r for r in results if not isinstance(r, int)]
    if bad:
        raise RuntimeError('session errors: %s' % bad[:3])
    n = sum(results)
    if n != SESSIONS * PER_USER * ROUNDS:
        raise RuntimeError('fetched %d, expected %d' % (
            n, SESSIONS * PER_USER * ROUNDS))
    print('imap %-8s %d sessions x %d rounds (LOGIN, SELECT, UID FETCH '
          '1:* (FLAGS BODY.PEEK[]) of %d, UID STORE +FLAGS \\Seen, LOGOUT): '
          '%d messages in %.1f s, %.0f messages/s, %.3f server CPU-s per '
          '1000 messages' % (backend, SESSIONS, ROUNDS, PER_USER, n, dt,
                             n / dt, cpu * 1000 / n))


class Smtp:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), 30)
        self.buf = b''
        self.expect(b'220')
        self.sock.sendall(b'EHLO bench.example\r\n')
        self.expect(b'250')

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError('smtp closed')
        self.buf += chunk

    def has_reply(self):
        for ln in self.buf.split(b'\r\n')[:-1]:
            if ln[3:4] != b'-':
                return True
        return False

    def expect(self, code):
        while True:
            while b'\r\n' not in self.buf:
                self.fill()
            ln, self.buf = self.buf.split(b'\r\n', 1)
            if ln[3:4] != b'-':
                if not ln.startswith(code):
                    raise RuntimeError('smtp: %r' % ln)
                return

    def start(self, rcpt):
        self.sock.sendall(b'MAIL FROM:<lat@remote.example>\r\n'
                          b'RCPT TO:<%s>\r\nDATA\r\n' % rcpt.encode())
        self.expect(b'250')
        self.expect(b'250')
        self.expect(b'354')


def latency(k, backend, label):
    """SMTP 250 to IDLE EXISTS, both timed when their bytes arrive (the
    EXISTS may even arrive first: that counts as 0)."""
    user = 'lat@localhost'
    c = Client(k.port('imap'))
    c.cmd('LOGIN %s %s' % (user, PASSWORD))
    c.cmd('SELECT INBOX')
    c.sock.sendall(b'I1 IDLE\r\n')
    while not c.line().startswith(b'+'):
        pass
    s = Smtp(k.port('smtp'))
    samples = []
    data = body(1)
    sel = selectors.DefaultSelector()
    sel.register(c.sock, selectors.EVENT_READ, 'imap')
    sel.register(s.sock, selectors.EVENT_READ, 'smtp')
    dot = []
    for _ in range(LATENCY):
        s.start(user)
        s.sock.sendall(data + b'.\r\n')
        tdot = time.monotonic()
        t250 = tex = None
        while t250 is None or tex is None:
            ev = sel.select(10)
            if not ev:
                raise RuntimeError('no EXISTS within 10 s')
            for key, _ in ev:
                if key.data == 'smtp':
                    s.fill()
                    if s.has_reply():
                        t250 = time.monotonic()
                        s.expect(b'250')
                else:
                    c.fill()
                    now = time.monotonic()
                    while b'\r\n' in c.buf[c.pos:]:
                        if c.line().endswith(b' EXISTS'):
                            tex = now
        samples.append((tex - t250) * 1000)
        dot.append(((t250 - tdot) * 1000, (tex - tdot) * 1000))
    sel.close()
    c.sock.sendall(b'DONE\r\n')
    c.response('I1')
    c.cmd('LOGOUT')
    c.close()
    s.sock.sendall(b'QUIT\r\n')
    s.sock.close()
    early = len([x for x in samples if x <= 0])
    samples = sorted(max(0.0, x) for x in samples)

    def pct(v, p):
        return v[min(len(v) - 1, int(len(v) * p))]
    print('imap %-8s SMTP 250 -> IDLE EXISTS%s, %d samples: p50 %.2f ms, '
          'p99 %.2f ms, max %.2f ms (%d EXISTS read no later than their '
          '250)' % (backend, label, len(samples), pct(samples, 0.50),
                    pct(samples, 0.99), samples[-1], early))
    d250 = sorted(x[0] for x in dot)
    dex = sorted(x[1] for x in dot)
    print('imap %-8s   end of DATA -> 250: p50 %.2f ms, p99 %.2f ms; '
          'end of DATA -> EXISTS: p50 %.2f ms, p99 %.2f ms' % (
              backend, pct(d250, 0.5), pct(d250, 0.99), pct(dex, 0.5),
              pct(dex, 0.99)))


def idle_sessions(k, backend):
    users = ['i%03d@localhost' % i for i in range(IDLE_USERS)]
    for u in users:
        k.add_user(u, PASSWORD)
        fill_user(k.port('imap'), u, [body(i) for i in range(20)])
    time.sleep(1)
    base = pss_kib(k)
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.time()
    pending = 0
    for i in range(IDLE):
        s = socket.create_connection(('127.0.0.1', k.port('imap')), 60)
        s.setblocking(False)
        s.sendall(b'a LOGIN %s %s\r\nb SELECT INBOX\r\nc IDLE\r\n' % (
            users[i % len(users)].encode(), PASSWORD.encode()))
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
        pending += 1
        # keep at most 200 logins in flight
        while pending > 200 or (i == IDLE - 1 and pending > 0):
            for key, _ in sel.select(60):
                try:
                    chunk = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise RuntimeError('idle session closed: %r' % bytes(
                        key.data[-200:]))
                key.data.extend(chunk)
                if b'\r\n+ ' in key.data or key.data.startswith(b'+ '):
                    sel.unregister(key.fileobj)
                    pending -= 1
                elif b'\r\na NO' in key.data or b'\r\nb NO' in key.data:
                    raise RuntimeError('idle login: %r' % bytes(key.data))
    dt = time.time() - t0
    time.sleep(2)
    now = pss_kib(k)
    per = [(now[i] - base[i]) / IDLE for i in range(3)]
    print('imap %-8s %d sessions (%d users) logged in, INBOX of 20 '
          'selected, in IDLE (set up in %.1f s): server PSS %d KiB -> %d '
          'KiB, %.1f KiB per session (anonymous %.1f, file-backed %.1f)' % (
              backend, IDLE, len(users), dt, base[0], now[0], per[0],
              per[1], per[2]))
    if kt.have_module('smtp'):
        latency(k, backend, ' with %d sessions idling' % IDLE)
    for s in socks:
        s.close()


def run(backend):
    over = {'log_level': 'notice', 'auth_throttle_exempt': '127.0.0.0/8',
            'max_connections': str(IDLE + 1000)}
    if SCHEME:
        over['passwd_scheme'] = SCHEME
    print('imap %-8s password scheme: %s' % (
        backend, SCHEME or 'default (yescrypt)'))
    with kt.Kurird(storage=backend, protocols='imap smtp',
                   overrides=over,
                   config_text='smtp_connections_per_ip = 0\n') as k:
        try:
            if 'big' in PHASES:
                big_mailbox(k, backend)
            if 'sessions' in PHASES:
                concurrent_sessions(k, backend)
            k.add_user('lat@localhost', PASSWORD)
            # a fresh server for the memory and latency figures
            k.stop()
            k.start()
            if kt.have_module('smtp') and 'latency' in PHASES:
                latency(k, backend, '')
            if 'idle' in PHASES:
                idle_sessions(k, backend)
        except Exception:
            print('kurird log (tail):\n' + k.log_text()[-3000:])
            raise
    return 0


def main():
    if not kt.have_module('imap') or not os.path.exists(kt.KURIRD):
        print('skip: imap module or kurird not built')
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    wanted = os.environ.get('BENCH_IMAP_BACKENDS')
    rc = 0
    for be in kt.backends():
        if wanted and be not in wanted.split():
            continue
        rc |= run(be)
    return rc


if __name__ == '__main__':
    sys.exit(main())
