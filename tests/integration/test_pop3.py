"""POP3 and POP3S against a real kurird, on every built storage backend.

Messages are put into the store byte for byte with the storeput tool
(storage ABI, backend loaded as kurird loads it), then read back with raw
sockets and Python's poplib: every command and state, LIST/STAT/UIDL
consistency, RETR/TOP byte-exact with CRLF and dot-stuffing, DELE/RSET/
QUIT against a dropped connection, IN-USE across worker processes, UIDL
stable across sessions and a restart, STLS (pipelined plaintext
discarded) and POP3S, pipelining, garbage input and the error limit,
\\Seen after RETR, racing logins of one user, a large RETR held to the
output window, and kill -9 or a stop before QUIT losing nothing.
test_pop3_policy.py has the plaintext policy, trash and the limit keys.
"""
import os
import poplib
import pwd
import random
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402

STOREPUT = os.path.join(kt.BUILDDIR, 'tests', 'integration', 'storeput')
PASSWORD = 'pop secret'


def require_server():
    if not os.path.exists(kt.KURIRD):
        print('skip: kurird not built yet')
        sys.exit(kt.SKIP)
    kt.require_modules('pop3', 'passwd')
    if not kt.backends():
        print('skip: no storage backend built')
        sys.exit(kt.SKIP)
    if not os.path.exists(STOREPUT):
        print('skip: tests/integration/storeput not built')
        sys.exit(kt.SKIP)


def check_clean_stop(k):
    """Stop kurird and clean up; raise unless it exited 0 with no
    sanitizer report (ASan/UBSan/LeakSanitizer write to its log)."""
    try:
        rc = k.stop()
        log = k.log_text()
    finally:
        k.cleanup()
    bad = [l for l in log.split('\n')
           if 'Sanitizer' in l or 'runtime error' in l]
    if rc != 0 or bad:
        raise AssertionError('kurird exit %s; %s' % (rc, bad[:5]))


def wire(msg, top=None):
    """What RETR (top=None) or TOP n must send after the +OK line: every
    line CRLF-terminated, a leading '.' doubled, then '.' CRLF.  Written
    line by line, independently of the server's streaming encoder."""
    out = []
    pieces = msg.split(b'\n')
    last = pieces.pop()          # after the final LF: unterminated text
    lines = [p[:-1] if p.endswith(b'\r') else p for p in pieces]
    if last:
        lines.append(last[:-1] if last.endswith(b'\r') else last)
    in_body = False
    left = top
    for i, text in enumerate(lines):
        out.append((b'.' if text.startswith(b'.') else b'') + text + b'\r\n')
        if top is None or i >= len(pieces):
            continue
        if not in_body:
            if text == b'':
                in_body = True
                if left == 0:
                    break
        else:
            left -= 1
            if left == 0:
                break
    return b''.join(out) + b'.\r\n'


def storeput(k, user, data, seen=False, mailbox='INBOX', count=1):
    """Append data to user's mailbox count times; [(uidvalidity, uid)].
    Runs as the workers' user, so the files it makes are theirs."""
    args = [STOREPUT]
    for key in ('state_dir', 'module_dir', 'storage'):
        args += ['-o', '%s=%s' % (key, k.opts[key])]
    if seen:
        args.append('-s')
    args += ['-n', str(count), user, mailbox]
    kw = {}
    if k.opts.get('user'):
        pw = pwd.getpwnam(k.opts['user'])
        kw = {'user': pw.pw_uid, 'group': pw.pw_gid, 'extra_groups': []}
    r = subprocess.run(args, input=data, capture_output=True, timeout=300,
                       **kw)
    if r.returncode != 0:
        raise RuntimeError('storeput: ' + r.stderr.decode())
    return [tuple(int(x) for x in l.split())
            for l in r.stdout.decode().split('\n') if l]


def uidl_of(uv, uid):
    return '%08x%08x' % (uv, uid)


class Raw:
    """A byte-exact POP3 client over a socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b''

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self, timeout=15):
        self.s.settimeout(timeout)
        chunk = self.s.recv(262144)
        if not chunk:
            raise EOFError('closed; buffered %r' % self.buf[:200])
        self.buf += chunk

    def line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line.decode('latin-1')

    def body(self):
        """The raw bytes of a multi-line answer after its status line,
        terminator included."""
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
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw

    def cmd(self, c):
        self.send(c + '\r\n')
        return self.line()

    def multi(self, c):
        st = self.cmd(c)
        if not st.startswith('+OK'):
            return st, None
        return st, self.body()

    def closed(self, timeout=10):
        """True once the server has closed the connection."""
        try:
            while True:
                self._fill(timeout)
        except EOFError:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def multi_lines(raw):
    return [l for l in raw.split(b'\r\n')[:-2]]


class Pop3Base(unittest.TestCase):
    backend = None
    overrides = {}
    # Module keys go in a file: kurirctl gets the -o's and knows no
    # protocol module's keys.
    config_text = 'pop3_max_errors = 30\n'
    protocols = 'pop3'

    @classmethod
    def setUpClass(cls):
        # Cheap hashes keep the many logins of this file fast.
        o = {'auth_throttle_exempt': '127.0.0.0/8',
             'auth_throttle_delay_ms': '0',
             'passwd_scheme': 'sha512-crypt'}
        o.update(cls.overrides)
        cls.k = kt.Kurird(storage=cls.backend, protocols=cls.protocols,
                          overrides=o, workers=2,
                          config_text=cls.config_text).start()
        cls.nuser = 0

    @classmethod
    def tearDownClass(cls):
        check_clean_stop(cls.k)

    def setUp(self):
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()

    def user(self):
        """A fresh user for one test: no test sees another's locks."""
        type(self).nuser += 1
        u = 'u%d-%s@localhost' % (self.nuser, self.id().split('.')[-1][5:20])
        u = u.replace('_', '-')
        self.k.add_user(u, PASSWORD)
        return u

    def put(self, user, data, seen=False, mailbox='INBOX', count=1):
        out = storeput(self.k, user, data, seen, mailbox, count)
        return out[0] if count == 1 else out

    def connect(self, service='pop3'):
        c = Raw(self.k.connect(service))
        self.conns.append(c)
        if service == 'pop3s':
            c.s = kt.tls_context().wrap_socket(c.s)
        greeting = c.line()
        self.assertTrue(greeting.startswith('+OK'), greeting)
        return c

    def login(self, user, service='pop3'):
        c = self.connect(service)
        self.assertEqual(c.cmd('USER ' + user), '+OK')
        r = c.cmd('PASS ' + PASSWORD)
        self.assertTrue(r.startswith('+OK'), r)
        return c

    def login_retry(self, user, timeout=10):
        """After a dropped connection the lock goes when the server has
        noticed the close."""
        deadline = time.time() + timeout
        while True:
            c = self.connect()
            c.cmd('USER ' + user)
            r = c.cmd('PASS ' + PASSWORD)
            if r.startswith('+OK'):
                return c
            self.assertIn('[IN-USE]', r)
            c.close()
            if time.time() > deadline:
                self.fail('still IN-USE after %ds' % timeout)
            time.sleep(0.05)

    def wait_port_closed(self, timeout=10):
        """kill9() returns once the master is reaped; the workers that
        hold the listening socket may still be dying, and a client that
        reaches their backlog is reset.  Wait until nothing listens."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection(
                    ('127.0.0.1', self.k.port('pop3')), 1).close()
            except OSError:
                return
            time.sleep(0.02)
        self.fail('pop3 port still open after kill -9')

    def status(self, user, mailbox='INBOX'):
        r = self.k.ctl('mailbox', 'status', user, mailbox)
        return dict((l.split()[0], int(l.split()[1]))
                    for l in r.stdout.decode().split('\n') if l)

    # ---- the tests ---------------------------------------------------
    def test_capa_and_states(self):
        u = self.user()
        self.put(u, b'Subject: a\r\n\r\nx\r\n')
        c = self.connect()
        st, body = c.multi('CAPA')
        caps = [l.decode() for l in multi_lines(body)]
        for cap in ('TOP', 'UIDL', 'USER', 'RESP-CODES', 'AUTH-RESP-CODE',
                    'PIPELINING', 'STLS'):
            self.assertIn(cap, caps)
        self.assertTrue([x for x in caps if x.startswith('SASL ') and
                         'PLAIN' in x.split()], caps)
        self.assertTrue([x for x in caps if x.startswith('IMPLEMENTATION')])
        # TRANSACTION commands before login.
        for cmd in ('STAT', 'LIST', 'RETR 1', 'DELE 1', 'UIDL', 'TOP 1 1',
                    'RSET', 'NOOP'):
            self.assertTrue(c.cmd(cmd).startswith('-ERR'), cmd)
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('-ERR'))
        self.assertEqual(c.cmd('USER ' + u), '+OK')
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('+OK'))
        # Login commands after it.
        for cmd in ('USER ' + u, 'PASS x', 'AUTH PLAIN', 'STLS'):
            self.assertTrue(c.cmd(cmd).startswith('-ERR'), cmd)
        st, body = c.multi('CAPA')
        caps = [l.decode() for l in multi_lines(body)]
        self.assertIn('UIDL', caps)
        self.assertNotIn('STLS', caps)
        self.assertEqual(c.cmd('NOOP'), '+OK')
        self.assertTrue(c.cmd('QUIT').startswith('+OK'))
        self.assertTrue(c.closed())

    def test_auth_failures(self):
        u = self.user()
        c = self.connect()
        self.assertEqual(c.cmd('USER ' + u), '+OK')
        self.assertTrue(c.cmd('PASS wrong').startswith('-ERR [AUTH]'))
        self.assertEqual(c.cmd('USER nobody@localhost'), '+OK')
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('-ERR [AUTH]'))
        # AUTH PLAIN with an initial response (RFC 5034), then a
        # continuation.
        import base64
        bad = base64.b64encode(b'\0' + u.encode() + b'\0nope').decode()
        self.assertTrue(c.cmd('AUTH PLAIN ' + bad).startswith('-ERR [AUTH]'))
        self.assertEqual(c.cmd('AUTH PLAIN'), '+ ')
        self.assertTrue(c.cmd('*').startswith('-ERR'))
        self.assertTrue(c.cmd('AUTH NOSUCHMECH').startswith('-ERR'))
        # "=" is an empty initial response (RFC 5034): not PLAIN's.
        self.assertTrue(c.cmd('AUTH PLAIN =').startswith('-ERR'))
        self.assertEqual(c.cmd('AUTH PLAIN'), '+ ')
        good = base64.b64encode(b'\0' + u.encode() + b'\0' +
                                PASSWORD.encode()).decode()
        self.assertTrue(c.cmd(good).startswith('+OK'))
        self.assertEqual(c.cmd('STAT'), '+OK 0 0')
        c.cmd('QUIT')
        c = self.connect()
        self.assertTrue(c.cmd('AUTH PLAIN ' + good).startswith('+OK'))
        c.cmd('QUIT')

    def test_stat_list_uidl_consistent(self):
        u = self.user()
        msgs = [b'Subject: %d\r\n\r\n' % i + b'x' * (i * 37) + b'\r\n'
                for i in range(1, 8)]
        ids = [self.put(u, m, seen=(i % 3 == 0)) for i, m in enumerate(msgs)]
        c = self.login(u)
        self.assertEqual(c.cmd('STAT'), '+OK %d %d' % (
            len(msgs), sum(len(m) for m in msgs)))
        st, body = c.multi('LIST')
        self.assertTrue(st.startswith('+OK 7 messages'), st)
        self.assertEqual(multi_lines(body), [
            b'%d %d' % (i + 1, len(m)) for i, m in enumerate(msgs)])
        st, body = c.multi('UIDL')
        want = [('%d %s' % (i + 1, uidl_of(*ids[i]))).encode()
                for i in range(len(msgs))]
        self.assertEqual(multi_lines(body), want)
        self.assertEqual(len(set(want)), len(want))
        for i, m in enumerate(msgs):
            self.assertEqual(c.cmd('LIST %d' % (i + 1)),
                             '+OK %d %d' % (i + 1, len(m)))
            self.assertEqual(c.cmd('UIDL %d' % (i + 1)),
                             '+OK %d %s' % (i + 1, uidl_of(*ids[i])))
        for bad in ('0', '8', '99999999999', '-1', 'x', '1x'):
            self.assertTrue(c.cmd('LIST ' + bad).startswith('-ERR'), bad)
            self.assertTrue(c.cmd('UIDL ' + bad).startswith('-ERR'), bad)
        c.cmd('QUIT')

    def test_retr_top_byte_exact(self):
        u = self.user()
        big = bytearray()
        rnd = random.Random(5)
        # Lines of every length around the 16 KiB chunk edges, many
        # starting with dots, CRLF and bare LF mixed.
        while len(big) < 200000:
            n = rnd.choice([0, 1, 2, 70, 998, 4093, 16383])
            line = bytes(rnd.choice(b'.ab c.') for _ in range(n))
            big += line + (b'\r\n' if rnd.random() < 0.7 else b'\n')
        big = b'Subject: big\r\nX: y\r\n\r\n' + bytes(big)
        msgs = [
            b'Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nx.\r\n\r\n.',
            b'Subject: lf\n\nbare\nlf\n.only\nno final newline',
            b'Subject: cr\r\n\r\nends in CR\r',
            b'',
            b'No body at all',
            big,
        ]
        for m in msgs:
            self.put(u, m)
        c = self.login(u)
        for i, m in enumerate(msgs):
            st, body = c.multi('RETR %d' % (i + 1))
            self.assertEqual(st, '+OK %d octets' % len(m))
            self.assertEqual(body, wire(m), 'message %d' % (i + 1))
            for n in (0, 1, 2, 5):
                st, body = c.multi('TOP %d %d' % (i + 1, n))
                self.assertTrue(st.startswith('+OK'), st)
                self.assertEqual(body, wire(m, n), 'TOP %d %d' % (i + 1, n))
        self.assertTrue(c.cmd('TOP 1').startswith('-ERR'))
        self.assertTrue(c.cmd('TOP 1 x').startswith('-ERR'))
        self.assertTrue(c.cmd('RETR 7').startswith('-ERR'))
        c.cmd('QUIT')
        # poplib agrees, and a message stored with CRLF comes back
        # exactly as stored.
        p = poplib.POP3('127.0.0.1', self.k.port('pop3'), timeout=15)
        p.user(u)
        p.pass_(PASSWORD)
        resp, lines, octets = p.retr(1)
        self.assertEqual(b'\r\n'.join(lines) + b'\r\n',
                         msgs[0] + b'\r\n')
        resp, lines, octets = p.retr(2)
        self.assertEqual(octets, len(wire(msgs[1])) - 3 - 1)
        p.quit()

    def test_dele_rset_quit(self):
        u = self.user()
        ids = [self.put(u, b'Subject: %d\r\n\r\nbody\r\n' % i)
               for i in range(5)]
        c = self.login(u)
        self.assertTrue(c.cmd('DELE 2').startswith('+OK'))
        self.assertTrue(c.cmd('DELE 2').startswith('-ERR'))
        self.assertTrue(c.cmd('RETR 2').startswith('-ERR'))
        self.assertTrue(c.cmd('LIST 2').startswith('-ERR'))
        self.assertTrue(c.cmd('DELE 9').startswith('-ERR'))
        self.assertEqual(c.cmd('STAT'), '+OK 4 80')
        st, body = c.multi('LIST')
        self.assertEqual([l.split()[0] for l in multi_lines(body)],
                         [b'1', b'3', b'4', b'5'])
        self.assertTrue(c.cmd('RSET').startswith('+OK'))
        self.assertEqual(c.cmd('STAT'), '+OK 5 100')
        self.assertTrue(c.cmd('DELE 1').startswith('+OK'))
        self.assertTrue(c.cmd('DELE 4').startswith('+OK'))
        # Only marks until QUIT: the store still has all five.
        self.assertEqual(self.status(u)['messages'], 5)
        r = c.cmd('QUIT')
        self.assertTrue(r.startswith('+OK'), r)
        self.assertTrue(c.closed())
        # Gone at once: the next session sees the three others, with
        # the same UIDLs.
        c = self.login(u)
        st, body = c.multi('UIDL')
        self.assertEqual(multi_lines(body), [
            ('%d %s' % (n + 1, uidl_of(*ids[i]))).encode()
            for n, i in enumerate((1, 2, 4))])
        c.cmd('QUIT')
        self.assertEqual(self.status(u)['messages'], 3)

    def test_dropped_connection_expunges_nothing(self):
        u = self.user()
        for i in range(3):
            self.put(u, b'Subject: %d\r\n\r\nbody\r\n' % i)
        c = self.login(u)
        c.cmd('DELE 1')
        c.cmd('DELE 2')
        c.close()
        c = self.login_retry(u)
        self.assertEqual(c.cmd('STAT'), '+OK 3 60')
        c.send('DELE 3\r\n')
        self.assertTrue(c.line().startswith('+OK'))
        c.s.shutdown(socket.SHUT_RDWR)
        c.close()
        c = self.login_retry(u)
        self.assertEqual(c.cmd('STAT'), '+OK 3 60')
        c.cmd('QUIT')

    def test_in_use_across_workers(self):
        u = self.user()
        self.put(u, b'Subject: x\r\n\r\nbody\r\n')
        a = self.login(u)
        # Several tries, so both worker processes answer some.
        for _ in range(6):
            b = self.connect()
            self.assertEqual(b.cmd('USER ' + u), '+OK')
            r = b.cmd('PASS ' + PASSWORD)
            self.assertTrue(r.startswith('-ERR [IN-USE]'), r)
            # The session goes on after the refusal.
            self.assertEqual(b.cmd('USER ' + u), '+OK')
            b.close()
        self.assertTrue(a.cmd('QUIT').startswith('+OK'))
        self.assertTrue(a.closed())
        b = self.login(u)
        b.cmd('QUIT')

    def test_new_mail_waits_for_next_session(self):
        u = self.user()
        self.put(u, b'Subject: 1\r\n\r\nbody\r\n')
        c = self.login(u)
        self.assertEqual(c.cmd('STAT'), '+OK 1 20')
        self.put(u, b'Subject: 2\r\n\r\nbody\r\n')
        self.assertEqual(c.cmd('STAT'), '+OK 1 20')
        st, body = c.multi('LIST')
        self.assertEqual(multi_lines(body), [b'1 20'])
        c.cmd('DELE 1')
        c.cmd('QUIT')
        c = self.login(u)
        self.assertEqual(c.cmd('STAT'), '+OK 1 20')
        st, body = c.multi('RETR 1')
        self.assertIn(b'Subject: 2', body)
        c.cmd('QUIT')

    def test_retr_marks_seen(self):
        u = self.user()
        for i in range(4):
            self.put(u, b'Subject: %d\r\n\r\nbody\r\n' % i)
        self.assertEqual(self.status(u)['unseen'], 4)
        c = self.login(u)
        c.multi('RETR 1')
        c.multi('TOP 2 0')            # TOP does not mark
        c.multi('RETR 3')
        c.cmd('QUIT')
        self.assertEqual(self.status(u)['unseen'], 2)

    def test_pipelined_in_one_write(self):
        u = self.user()
        m = b'Subject: p\r\n\r\n.dot\r\nline\r\n'
        ids = [self.put(u, m) for _ in range(3)]
        c = self.connect()
        c.send('CAPA\r\nUSER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL\r\n'
               'RETR 2\r\nTOP 3 0\r\nDELE 1\r\nNOOP\r\nLIST 1\r\nRSET\r\n'
               'QUIT\r\n' % (u, PASSWORD))
        self.assertTrue(c.line().startswith('+OK'))
        c.body()
        self.assertEqual(c.line(), '+OK')
        self.assertTrue(c.line().startswith('+OK'))
        self.assertEqual(c.line(), '+OK 3 %d' % (3 * len(m)))
        self.assertTrue(c.line().startswith('+OK 3 messages'))
        self.assertEqual(multi_lines(c.body()), [
            b'%d %d' % (i, len(m)) for i in (1, 2, 3)])
        self.assertEqual(c.line(), '+OK')
        self.assertEqual(multi_lines(c.body()), [
            ('%d %s' % (i + 1, uidl_of(*ids[i]))).encode()
            for i in range(3)])
        self.assertEqual(c.line(), '+OK %d octets' % len(m))
        self.assertEqual(c.body(), wire(m))
        self.assertEqual(c.line(), '+OK')
        self.assertEqual(c.body(), wire(m, 0))
        self.assertTrue(c.line().startswith('+OK'))     # DELE
        self.assertEqual(c.line(), '+OK')               # NOOP
        self.assertTrue(c.line().startswith('-ERR'))    # LIST 1
        self.assertTrue(c.line().startswith('+OK'))     # RSET
        self.assertTrue(c.line().startswith('+OK'))     # QUIT
        self.assertTrue(c.closed())
        self.assertEqual(self.status(u)['messages'], 3)

    def test_garbage_and_error_limit(self):
        u = self.user()
        self.put(u, b'Subject: g\r\n\r\nbody\r\n')
        c = self.connect()
        for junk in (b'\x00\x01\x02', b'\xff\xfe\xfd junk', b'A' * 300,
                     b'RETR', b'   '):
            c.send(junk + b'\r\n')
            self.assertTrue(c.line().startswith('-ERR'), junk)
        # A megabyte without a line end: one -ERR, then on.
        c.send(b'B' * (1 << 20) + b'\r\n')
        self.assertTrue(c.line().startswith('-ERR'))
        self.assertTrue(c.cmd('USER ' + u).startswith('+OK'))
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('+OK'))
        self.assertEqual(c.cmd('STAT'), '+OK 1 20')
        c.close()
        # pop3_max_errors (30 here) bad commands end the session.
        c = self.connect()
        n = 0
        try:
            for n in range(1, 50):
                self.assertTrue(c.cmd('BOGUS %d' % n).startswith('-ERR'))
        except (EOFError, ConnectionError):
            pass
        self.assertEqual(n, 31)
        self.assertTrue(c.closed())
        # The server is still there.
        c = self.login_retry(u)
        c.cmd('QUIT')

    def test_stls_discards_pipelined_plaintext(self):
        u = self.user()
        self.put(u, b'Subject: s\r\n\r\nbody\r\n')
        c = self.connect()
        # The injected USER/PASS must not survive the upgrade.
        c.send('STLS\r\nUSER %s\r\nPASS %s\r\n' % (u, PASSWORD))
        self.assertTrue(c.line().startswith('+OK'))
        self.assertEqual(c.buf, b'')
        c.s = kt.tls_context().wrap_socket(c.s)
        st, body = c.multi('CAPA')
        caps = [l.decode() for l in multi_lines(body)]
        self.assertNotIn('STLS', caps)
        self.assertIn('USER', caps)
        self.assertTrue(c.cmd('STLS').startswith('-ERR'))
        self.assertTrue(c.cmd('STAT').startswith('-ERR'))
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('-ERR'))
        self.assertEqual(c.cmd('USER ' + u), '+OK')
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('+OK'))
        self.assertEqual(c.cmd('STAT'), '+OK 1 20')
        c.cmd('QUIT')
        # poplib's own stls().
        p = poplib.POP3('127.0.0.1', self.k.port('pop3'), timeout=15)
        p.stls(context=kt.tls_context())
        p.user(u)
        p.pass_(PASSWORD)
        self.assertEqual(p.stat(), (1, 20))
        p.quit()

    def test_pop3s(self):
        u = self.user()
        m = b'Subject: tls\r\n\r\n.hidden\r\n'
        self.put(u, m)
        p = poplib.POP3_SSL('127.0.0.1', self.k.port('pop3s'),
                            context=kt.tls_context(), timeout=15)
        caps = p.capa()
        self.assertNotIn('STLS', caps)
        self.assertIn('USER', caps)
        p.user(u)
        p.pass_(PASSWORD)
        self.assertEqual(p.stat(), (1, len(m)))
        resp, lines, octets = p.retr(1)
        self.assertEqual(lines, [b'Subject: tls', b'', b'.hidden'])
        p.dele(1)
        p.quit()
        self.assertEqual(self.status(u)['messages'], 0)

    def test_line_length_boundary(self):
        # RFC 2449 section 4: 255 octets including the CRLF.
        c = self.connect()
        self.assertEqual(c.cmd('USER ' + 'u' * 248), '+OK')      # 255
        self.assertEqual(c.cmd('USER ' + 'u' * 249),               # 256
                         '-ERR Line too long.')
        self.assertEqual(c.cmd('USER x@localhost'), '+OK')
        c.cmd('QUIT')

    def test_stls_forgets_user(self):
        u = self.user()
        c = self.connect()
        self.assertEqual(c.cmd('USER ' + u), '+OK')
        self.assertTrue(c.cmd('STLS').startswith('+OK'))
        c.s = kt.tls_context().wrap_socket(c.s)
        # RFC 2595: the USER given in plaintext is forgotten.
        r = c.cmd('PASS ' + PASSWORD)
        self.assertTrue(r.startswith('-ERR'), r)
        self.assertEqual(c.cmd('USER ' + u), '+OK')
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('+OK'))
        c.cmd('QUIT')

    def test_racing_logins_one_wins(self):
        """Eight clients log in as one user at the same instant, on two
        workers: exactly one gets the maildrop, the rest IN-USE; other
        users are not held up."""
        u = self.user()
        others = [self.user() for _ in range(3)]
        self.put(u, b'Subject: r\r\n\r\nbody\r\n')
        conns = [self.connect() for _ in range(8)]
        ocon = [self.connect() for _ in others]
        go = threading.Barrier(len(conns) + len(ocon))
        results = {}

        def run(i, c, user):
            go.wait()
            c.send('USER %s\r\nPASS %s\r\n' % (user, PASSWORD))
            results[i] = (c.line(), c.line())
        ts = [threading.Thread(target=run, args=(i, c, u))
              for i, c in enumerate(conns)]
        ts += [threading.Thread(target=run, args=(100 + i, c, o))
               for i, (c, o) in enumerate(zip(ocon, others))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        same = [results[i][1] for i in range(len(conns))]
        self.assertEqual(len([r for r in same if r.startswith('+OK')]), 1,
                         same)
        self.assertEqual(len([r for r in same
                              if r.startswith('-ERR [IN-USE]')]), 7, same)
        for i in range(len(others)):
            self.assertTrue(results[100 + i][1].startswith('+OK'), results)
        winner = conns[[i for i in range(len(conns))
                        if same[i].startswith('+OK')][0]]
        self.assertEqual(winner.cmd('STAT'), '+OK 1 20')
        self.assertTrue(winner.cmd('QUIT').startswith('+OK'))

    def test_retr_streams_bounded(self):
        """A large RETR to a client that does not read: the worker holds
        only its output window, not the message; then it all arrives."""
        if self.backend != kt.backends()[0]:
            self.skipTest('the pacing is the module\'s: one backend')
        u = self.user()
        line = b'.' + b'x' * 98 + b'\r\n'
        m = b'Subject: big\r\n\r\n' + line * 80000       # 8 MB
        self.put(u, m)
        c = self.login(u)
        workers = self.k.worker_pids()

        def rss():
            kb = 0
            for pid in workers:
                with open('/proc/%d/status' % pid) as f:
                    for l in f:
                        # Anonymous memory: LMDB's map is file-backed
                        # and would count in VmRSS.
                        if l.startswith('RssAnon:'):
                            kb += int(l.split()[1])
            return kb
        before = rss()
        c.send('RETR 1\r\n')
        time.sleep(0.5)
        grown = rss() - before
        if 'ASAN_OPTIONS' not in os.environ:
            # ASan keeps freed memory in quarantine: no RSS bound there.
            self.assertLess(grown, 4096, 'worker RSS grew %d KiB' % grown)
        self.assertEqual(c.line(), '+OK %d octets' % len(m))
        body = c.body()
        self.assertEqual(len(body), len(m) + 80000 + 3)
        self.assertEqual(body, wire(m))
        c.cmd('QUIT')

    def test_zz_crash_before_quit_loses_nothing(self):
        u = self.user()
        ids = [self.put(u, b'Subject: %d\r\n\r\nbody\r\n' % i)
               for i in range(4)]
        c = self.login(u)
        c.multi('RETR 1')
        self.assertTrue(c.cmd('DELE 1').startswith('+OK'))
        self.assertTrue(c.cmd('DELE 2').startswith('+OK'))
        self.k.kill9()
        c.close()
        self.wait_port_closed()
        self.k.start()
        # The kernel dropped the lock with the process: no IN-USE.
        c = self.login(u)
        self.assertEqual(c.cmd('STAT'), '+OK 4 80')
        st, body = c.multi('UIDL')
        self.assertEqual(multi_lines(body), [
            ('%d %s' % (i + 1, uidl_of(*ids[i]))).encode()
            for i in range(4)])
        # A clean stop in TRANSACTION: told why, and nothing expunged.
        self.assertTrue(c.cmd('DELE 3').startswith('+OK'))
        self.assertEqual(self.k.stop(), 0)
        r = c.line()
        self.assertTrue(r.startswith('-ERR [SYS/TEMP]'), r)
        self.assertTrue(c.closed())
        self.wait_port_closed()
        self.k.start()
        c = self.login(u)
        self.assertEqual(c.cmd('STAT'), '+OK 4 80')
        c.cmd('QUIT')

    def test_zz_uidl_stable_across_restart(self):
        u = self.user()
        ids = [self.put(u, b'Subject: %d\r\n\r\nx\r\n' % i)
               for i in range(3)]

        def uidls():
            c = self.login_retry(u)
            st, body = c.multi('UIDL')
            c.cmd('QUIT')
            return multi_lines(body)
        first = uidls()
        self.assertEqual(first, [('%d %s' % (i + 1, uidl_of(*ids[i])))
                                 .encode() for i in range(3)])
        self.assertEqual(uidls(), first)
        self.assertEqual(self.k.stop(), 0)
        self.wait_port_closed()
        self.k.start()
        self.assertEqual(uidls(), first)
        c = self.login(u)
        c.cmd('DELE 1')
        c.cmd('QUIT')
        self.assertEqual([l.split()[1] for l in uidls()],
                         [l.split()[1] for l in first[1:]])



def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for b in kt.backends():
        cls = type('Pop3_' + b, (Pop3Base,), {'backend': b})
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == '__main__':
    require_server()
    unittest.main(verbosity=2)
