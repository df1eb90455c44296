"""POP3 policies and limits against a real kurird: plaintext logins
refused without TLS (allow_plaintext_loopback = no stands in for a remote
client), pop3_delete_action = trash, the limit keys (pop3_idle_timeout,
pop3_max_line_length, pop3_max_errors), the core's login throttling, and
`storage =` empty answered with -ERR [SYS/TEMP], and POP3 and IMAP
agreeing on the same maildrop (UIDs, \\Seen, expunges).  The helpers and the base
class come from test_pop3.py.
"""
import base64
import imaplib
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402
from test_pop3 import (PASSWORD, Pop3Base, Raw,  # noqa: E402
                       check_clean_stop, multi_lines, require_server)

class Pop3Policy(Pop3Base):
    """Plaintext refused without TLS (as off loopback), and DELE moving
    to Trash."""
    overrides = {'allow_plaintext_loopback': 'no'}
    config_text = 'pop3_delete_action = trash\n'

    def tls_login(self, user):
        c = self.connect()
        self.assertTrue(c.cmd('STLS').startswith('+OK'))
        c.s = kt.tls_context().wrap_socket(c.s)
        self.assertEqual(c.cmd('USER ' + user), '+OK')
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('+OK'))
        return c

    def test_plaintext_refused(self):
        u = self.user()
        c = self.connect()
        st, body = c.multi('CAPA')
        caps = [l.decode() for l in multi_lines(body)]
        self.assertNotIn('USER', caps)
        self.assertFalse([x for x in caps if x.startswith('SASL') and
                          'PLAIN' in x.split()], caps)
        self.assertIn('STLS', caps)
        r = c.cmd('USER ' + u)
        self.assertTrue(r.startswith('-ERR [AUTH]'), r)
        good = base64.b64encode(b'\0' + u.encode() + b'\0' +
                                PASSWORD.encode()).decode()
        r = c.cmd('AUTH PLAIN ' + good)
        self.assertTrue(r.startswith('-ERR [AUTH]'), r)
        # PASS after a refused USER has no user; LOGIN is not offered.
        self.assertTrue(c.cmd('PASS ' + PASSWORD).startswith('-ERR'))
        r = c.cmd('AUTH LOGIN')
        self.assertTrue(r.startswith('-ERR [AUTH]'), r)
        self.assertTrue(c.cmd('STAT').startswith('-ERR'))
        c.close()
        self.tls_login(u).cmd('QUIT')

    def test_trash(self):
        u = self.user()
        for i in range(3):
            self.put(u, b'Subject: %d\r\n\r\nbody\r\n' % i)
        c = self.tls_login(u)
        c.multi('RETR 2')
        c.cmd('DELE 2')
        c.cmd('DELE 3')
        self.assertTrue(c.cmd('QUIT').startswith('+OK'))
        self.assertEqual(self.status(u)['messages'], 1)
        t = self.status(u, 'Trash')
        self.assertEqual(t['messages'], 2)
        self.assertEqual(t['unseen'], 1)
        lst = self.k.ctl('mailbox', 'list', u).stdout.decode()
        self.assertIn('Trash', lst)


class Pop3Limits(Pop3Base):
    """The limits are config keys: pop3_idle_timeout,
    pop3_max_line_length, pop3_max_errors; and the core's login
    throttling applies to POP3 (no exemption here)."""
    overrides = {'auth_throttle_exempt': '',
                 'auth_throttle_delay_ms': '400',
                 'auth_throttle_delay_max_ms': '400',
                 'auth_throttle_user_failures': '3'}
    config_text = ('pop3_idle_timeout = 1s\npop3_max_line_length = 64\n'
                   'pop3_max_errors = 6\npop3_max_messages = 3\n')

    def test_max_messages(self):
        u = self.user()
        ids = [self.put(u, b'Subject: %d\r\n\r\nbody\r\n' % i)
               for i in range(5)]
        c = self.login(u)
        self.assertEqual(c.cmd('STAT'), '+OK 3 60')
        for i in (1, 2, 3):
            self.assertTrue(c.cmd('DELE %d' % i).startswith('+OK'))
        self.assertTrue(c.cmd('QUIT').startswith('+OK'))
        c = self.login(u)
        st, body = c.multi('UIDL')
        self.assertEqual(multi_lines(body), [
            ('%d %08x%08x' % (n + 1, ids[i][0], ids[i][1])).encode()
            for n, i in enumerate((3, 4))])
        c.cmd('QUIT')

    def test_idle_timeout(self):
        u = self.user()
        self.put(u, b'Subject: t\r\n\r\nbody\r\n')
        c = self.login(u)
        self.assertTrue(c.cmd('DELE 1').startswith('+OK'))
        t0 = time.time()
        self.assertEqual(c.line(), '-ERR Disconnected for inactivity.')
        self.assertTrue(c.closed())
        self.assertGreater(time.time() - t0, 0.5)
        # A timed-out session is a dropped one: nothing expunged.
        c = self.login_retry(u)
        self.assertEqual(c.cmd('STAT'), '+OK 1 20')
        c.cmd('QUIT')

    def test_max_line_length(self):
        c = self.connect()
        self.assertEqual(c.cmd('USER ' + 'u' * 57), '+OK')       # 64
        self.assertEqual(c.cmd('USER ' + 'u' * 58),                # 65
                         '-ERR Line too long.')
        c.cmd('QUIT')

    def test_max_errors(self):
        c = self.connect()
        for i in range(5):
            self.assertTrue(c.cmd('BOGUS').startswith('-ERR'))
        self.assertFalse(c.closed(0.2))
        self.assertTrue(c.cmd('BOGUS').startswith('-ERR'))
        self.assertTrue(c.closed())

    def test_throttled_failures(self):
        u = self.user()
        c = self.connect()
        for i in range(3):
            self.assertEqual(c.cmd('USER ' + u), '+OK')
            t0 = time.time()
            r = c.cmd('PASS wrong')
            self.assertTrue(r.startswith('-ERR [AUTH]'), r)
            self.assertGreater(time.time() - t0, 0.3)
        # Locked out now, even with the right password, and told to
        # come back later rather than that the password is wrong.
        self.assertEqual(c.cmd('USER ' + u), '+OK')
        r = c.cmd('PASS ' + PASSWORD)
        self.assertTrue(r.startswith('-ERR [SYS/TEMP]'), r)
        c.close()


class Pop3NoStorage(unittest.TestCase):
    """`storage =` empty: logins get -ERR [SYS/TEMP], the worker lives."""

    def test_login_tempfails(self):
        k = kt.Kurird(storage='', protocols='pop3', workers=1,
                      overrides={'auth_throttle_exempt': '127.0.0.0/8',
                                 'passwd_scheme': 'sha512-crypt'})
        try:
            k.start()
            k.add_user('ns@localhost', PASSWORD)
            pids = k.worker_pids()
            for _ in range(2):
                c = Raw(k.connect('pop3'))
                self.assertTrue(c.line().startswith('+OK'))
                self.assertEqual(c.cmd('USER ns@localhost'), '+OK')
                r = c.cmd('PASS ' + PASSWORD)
                self.assertTrue(r.startswith('-ERR [SYS/TEMP]'), r)
                self.assertTrue(c.cmd('STAT').startswith('-ERR'))
                self.assertTrue(c.cmd('QUIT').startswith('+OK'))
                c.close()
            self.assertEqual(k.worker_pids(), pids)
            self.assertNotIn('killed by signal', k.log_text())
        finally:
            check_clean_stop(k)



class Pop3Imap(Pop3Base):
    """POP3 and IMAP on one server see the same INBOX: UIDL is IMAP's
    UIDVALIDITY and UID, RETR's \\Seen shows over IMAP, and a message
    POP3 deleted is gone from IMAP."""
    protocols = 'pop3 imap'

    def imap(self, user):
        m = imaplib.IMAP4('127.0.0.1', self.k.port('imap'), timeout=15)
        m.login(user, PASSWORD)
        return m

    def test_same_maildrop(self):
        u = self.user()
        for i in range(4):
            self.put(u, b'Subject: %d\r\n\r\nbody %d\r\n' % (i, i))
        c = self.login(u)
        st, body = c.multi('UIDL')
        uidl = [l.split()[1].decode() for l in multi_lines(body)]
        c.multi('RETR 2')
        c.multi('TOP 3 0')
        self.assertTrue(c.cmd('DELE 4').startswith('+OK'))
        self.assertTrue(c.cmd('QUIT').startswith('+OK'))
        m = self.imap(u)
        typ, data = m.select('INBOX')
        self.assertEqual(typ, 'OK')
        self.assertEqual(int(data[0]), 3)
        typ, data = m.response('UIDVALIDITY')
        uv = int(data[0])
        typ, data = m.uid('FETCH', '1:*', '(UID FLAGS)')
        self.assertEqual(typ, 'OK')
        got = {}
        for item in data:
            line = item.decode() if isinstance(item, bytes) else \
                item[0].decode()
            uid = int(re.search(r'UID (\d+)', line).group(1))
            got[uid] = '\\Seen' in re.search(r'FLAGS \(([^)]*)\)',
                                               line).group(1)
        want = ['%08x%08x' % (uv, uid) for uid in sorted(got)]
        self.assertEqual(want, uidl[:3])
        uids = sorted(got)
        self.assertEqual([got[x] for x in uids], [False, True, False])
        m.logout()


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for b in kt.backends():
        pol = type('Pop3Policy_' + b, (Pop3Policy,), {'backend': b})
        for name in ('test_plaintext_refused', 'test_trash'):
            suite.addTest(pol(name))
    lim = type('Pop3Limits_' + kt.backends()[0], (Pop3Limits,),
               {'backend': kt.backends()[0]})
    for name in ('test_idle_timeout', 'test_max_line_length',
                 'test_max_errors', 'test_throttled_failures',
                 'test_max_messages'):
        suite.addTest(lim(name))
    suite.addTests(loader.loadTestsFromTestCase(Pop3NoStorage))
    if kt.have_module('imap'):
        im = type('Pop3Imap_' + kt.backends()[0], (Pop3Imap,),
                  {'backend': kt.backends()[0]})
        suite.addTest(im('test_same_maildrop'))
    return suite


if __name__ == '__main__':
    require_server()
    unittest.main(verbosity=2)
