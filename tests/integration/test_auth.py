"""Logins through a real kurird: every SASL mechanism (with and without
an initial response) and the plaintext logins over each built protocol,
the plaintext policy off loopback (allow_plaintext_loopback = no) and
after STARTTLS, throttling (growing delay, then a temporary failure),
exemptions, and users added, changed and removed by kurirctl while the
server runs."""
import base64
import os
import pty
import select
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt                                   # noqa: E402
from authclient import Session, protocols_or_skip      # noqa: E402

PROTOS, STORAGE = protocols_or_skip()
EXEMPT = {'auth_throttle_exempt': '127.0.0.0/8 ::1'}


def server(protocols, **overrides):
    return kt.Kurird(storage=STORAGE, protocols=protocols, workers=1,
                     overrides=overrides)


class Mechanisms(unittest.TestCase):
    def test_each_protocol(self):
        for proto in PROTOS:
            with self.subTest(proto=proto), server(proto, **EXEMPT) as k:
                k.add_user('alice@localhost', 'correct horse')

                def login(fn, *a, **kw):
                    s = Session(k, proto)
                    try:
                        return getattr(s, fn)(*a, **kw)
                    finally:
                        s.close()

                s = Session(k, proto)
                mechs = s.mechs()
                s.close()
                self.assertTrue({'PLAIN', 'LOGIN', 'SCRAM-SHA-256'} <=
                                mechs, mechs)
                u, p = 'alice@localhost', 'correct horse'
                self.assertEqual(login('plain', u, p), 'ok')
                self.assertEqual(login('plain', u, p, ir=False), 'ok')
                self.assertEqual(login('plain', 'ALICE@LOCALHOST', p), 'ok')
                self.assertEqual(login('login_mech', u, p), 'ok')
                self.assertEqual(login('scram', u, p), 'ok')
                self.assertEqual(login('scram', u, p, ir=False), 'ok')
                self.assertEqual(login('plaintext_login', u, p), 'ok')
                self.assertEqual(login('plain', u, 'wrong'), 'fail')
                self.assertEqual(login('scram', u, 'wrong'), 'fail')
                self.assertEqual(login('plain', 'nobody@localhost', p),
                                 'fail')
                self.assertEqual(login('scram', 'nobody@localhost', p),
                                 'fail')
                self.assertEqual(login('plaintext_login', u, 'wrong'),
                                 'fail')
                log = k.log_text()
                self.assertIn('auth: login user=alice@localhost', log)
                self.assertIn('auth: login failed user=nobody@localhost',
                              log)
                # secrets never logged (the harness runs at debug level):
                # not the password, not the base64 a client sent it in
                self.assertNotIn('correct horse', log)
                for raw in (b'\0alice@localhost\0correct horse',
                            b'correct horse'):
                    self.assertNotIn(base64.b64encode(raw).decode(), log)
                with open(os.path.join(k.state_dir, 'passwd')) as f:
                    self.assertNotIn('correct horse', f.read())


class PlaintextPolicy(unittest.TestCase):
    def test_refused_without_tls(self):
        for proto in PROTOS:
            with self.subTest(proto=proto), server(
                    proto, allow_plaintext_loopback='no', **EXEMPT) as k:
                k.add_user('alice@localhost', 'secret')
                s = Session(k, proto)
                mechs = s.mechs()
                self.assertNotIn('PLAIN', mechs)
                self.assertNotIn('LOGIN', mechs)
                self.assertEqual(s.plain('alice@localhost', 'secret'),
                                 'denied')
                s.close()
                if proto != 'smtp':
                    s = Session(k, proto)
                    self.assertEqual(s.plaintext_login('alice@localhost',
                                                       'secret'), 'denied')
                    s.close()
                # SCRAM never shows the password: the core allows it in the
                # clear (SMTP submission still insists on STARTTLS first)
                s = Session(k, proto)
                self.assertIn(s.scram('alice@localhost', 'secret'),
                              ("ok", "denied") if proto == "smtp"
                              else ("ok",))
                s.close()
                # after STARTTLS, plaintext mechanisms are offered and work
                s = Session(k, proto)
                s.starttls()
                self.assertIn('PLAIN', s.mechs())
                self.assertEqual(s.plain('alice@localhost', 'secret'), 'ok')
                s.close()


class Throttle(unittest.TestCase):
    def test_delay_then_lockout(self):
        proto = PROTOS[0]
        with server(proto, auth_throttle_delay_ms='300',
                    auth_throttle_delay_max_ms='2000',
                    auth_throttle_user_failures='3',
                    auth_throttle_ip_failures='20',
                    auth_throttle_lockout='1h') as k:
            k.add_user('alice@localhost', 'secret')
            k.add_user('bob@localhost', 'bobpw')
            took = []
            for _ in range(3):
                s = Session(k, proto)
                t0 = time.monotonic()
                self.assertEqual(s.plain('alice@localhost', 'nope'), 'fail')
                took.append(time.monotonic() - t0)
                s.close()
            self.assertGreaterEqual(took[0], 0.3)
            self.assertGreaterEqual(took[1], 0.6)
            self.assertGreaterEqual(took[2], 1.2)
            self.assertGreater(took[2], took[0] + 0.5)
            # locked: even the right password gets a temporary failure
            s = Session(k, proto)
            self.assertEqual(s.plain('alice@localhost', 'secret'),
                             'tempfail')
            s.close()
            s = Session(k, proto)
            self.assertEqual(s.scram('alice@localhost', 'secret'),
                             'tempfail')
            s.close()
            # another user from the same address is not locked, and a
            # success is not delayed by the address's failures (3 so far:
            # a failure now would wait 1.2 s)
            s = Session(k, proto)
            t0 = time.monotonic()
            self.assertEqual(s.plain('bob@localhost', 'bobpw'), 'ok')
            self.assertLess(time.monotonic() - t0, 1.0)
            s.close()

    def test_exempt(self):
        proto = PROTOS[0]
        with server(proto, auth_throttle_delay_ms='1000',
                    auth_throttle_user_failures='2', **EXEMPT) as k:
            k.add_user('alice@localhost', 'secret')
            for _ in range(4):
                s = Session(k, proto)
                t0 = time.monotonic()
                self.assertEqual(s.plain('alice@localhost', 'x'), 'fail')
                self.assertLess(time.monotonic() - t0, 0.9)
                s.close()
            s = Session(k, proto)
            self.assertEqual(s.plain('alice@localhost', 'secret'), 'ok')
            s.close()


class Kurirctl(unittest.TestCase):
    def test_changes_without_restart(self):
        proto = PROTOS[0]
        with server(proto, **EXEMPT) as k:
            s = Session(k, proto)
            self.assertEqual(s.plain('carol@localhost', 'pw1'), 'fail')
            s.close()
            k.add_user('carol@localhost', 'pw1')
            s = Session(k, proto)
            self.assertEqual(s.plain('carol@localhost', 'pw1'), 'ok')
            s.close()
            k.ctl('user', 'passwd', 'carol@localhost', input=b'pw2\n')
            s = Session(k, proto)
            self.assertEqual(s.plain('carol@localhost', 'pw1'), 'fail')
            s.close()
            s = Session(k, proto)
            self.assertEqual(s.scram('carol@localhost', 'pw2'), 'ok')
            s.close()
            k.ctl('user', 'set', 'carol@localhost', '--disabled')
            s = Session(k, proto)
            self.assertEqual(s.plain('carol@localhost', 'pw2'), 'fail')
            s.close()
            k.ctl('user', 'del', 'carol@localhost')
            r = k.ctl('user', 'list')
            self.assertNotIn(b'carol', r.stdout)
            r = k.ctl('user', 'add', 'dave@localhost', input=b'',
                      check=False)
            self.assertNotEqual(r.returncode, 0)
            r = k.ctl('pw', 'hash', '--scheme', 'SHA512-CRYPT',
                      input=b'pw\n')
            self.assertTrue(r.stdout.startswith(b'{SHA512-CRYPT}$6$'))
            # a malformed line is reported with file:line and skipped
            with open(os.path.join(k.state_dir, 'passwd'), 'a') as f:
                f.write('garbage line\n')
            k.add_user('erin@localhost', 'pw')
            s = Session(k, proto)
            self.assertEqual(s.plain('erin@localhost', 'pw'), 'ok')
            s.close()
            self.assertIn('passwd:1: missing', k.log_text())

    def test_password_prompt_on_a_terminal(self):
        """On a terminal kurirctl prompts twice, without echo."""
        proto = PROTOS[0]
        with server(proto, **EXEMPT) as k:
            argv = [kt.KURIRCTL]
            for key, v in k.opts.items():
                if not key.endswith('_listen') and key != 'protocols':
                    argv += ['-o', '%s=%s' % (key, v)]
            argv += ['user', 'add', 'tty@localhost']
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(argv[0], argv)
            out = b''
            deadline = time.monotonic() + 20
            for want, answer in ((b'assword', b'tty secret 42\n'),
                                 (b'Retype', b'tty secret 42\n')):
                while want not in out and time.monotonic() < deadline:
                    r, _, _ = select.select([fd], [], [], 1)
                    if r:
                        out += os.read(fd, 1024)
                self.assertIn(want, out)
                os.write(fd, answer)
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 1)
                try:
                    chunk = os.read(fd, 1024) if r else b''
                except OSError:
                    break
                if r and not chunk:
                    break
                out += chunk
            _, status = os.waitpid(pid, 0)
            os.close(fd)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
            self.assertNotIn(b'tty secret 42', out)
            s = Session(k, proto)
            self.assertEqual(s.plain('tty@localhost', 'tty secret 42'),
                             'ok')
            s.close()


if __name__ == '__main__':
    unittest.main(verbosity=2)
