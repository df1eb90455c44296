"""Aliases and addresses through a real kurird over SMTP: an alias with
two targets delivers to both, plus-addressing delivers to the base user,
a catch-all takes unknown local parts, a loop is refused (550 5.4.6) and
the server goes on, and `kurirctl alias add|del|list` changes apply
without a restart."""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt                                   # noqa: E402

if (not os.path.exists(kt.KURIRD) or not kt.have_module('smtp') or
        not kt.have_module('passwd') or not kt.backends()):
    print('skip: needs kurird, the smtp and passwd modules and a backend')
    sys.exit(kt.SKIP)

MSG = b'From: x@example.org\r\nSubject: alias test\r\n\r\nbody\r\n'


def count(k, user):
    out = k.ctl('mailbox', 'status', user, 'INBOX').stdout.decode()
    st = dict(line.split() for line in out.splitlines() if line)
    return int(st['messages'])


def rcpt(k, addr):
    """RCPT TO one address; returns (code, text) and checks that the
    session still answers afterwards."""
    s = smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=30)
    try:
        s.ehlo('client.example.org')
        s.mail('x@example.org')
        code, text = s.rcpt(addr)
        if code == 250:
            s.data(MSG)
        else:
            s.rset()
        assert s.noop()[0] == 250
        return code, text.decode()
    finally:
        s.quit()


class Aliases(unittest.TestCase):
    def test_aliases(self):
        with kt.Kurird(storage=kt.backends()[0], protocols='smtp',
                       workers=1) as k:
            k.add_user('alice@localhost', 'pw-a')
            k.add_user('bob@localhost', 'pw-b')
            k.ctl('alias', 'add', 'team@localhost', 'alice@localhost',
                  'bob@localhost')
            k.ctl('alias', 'add', 'l1@localhost', 'l2@localhost')
            k.ctl('alias', 'add', 'l2@localhost', 'l1@localhost')
            out = k.ctl('alias', 'list').stdout.decode()
            self.assertIn('team@localhost', out)
            self.assertIn('bob@localhost', out)

            self.assertEqual(rcpt(k, 'team@localhost')[0], 250)
            self.assertEqual((count(k, 'alice@localhost'),
                              count(k, 'bob@localhost')), (1, 1))
            # plus-addressing: the tag goes, the user gets it
            self.assertEqual(rcpt(k, 'bob+lists@localhost')[0], 250)
            self.assertEqual(count(k, 'bob@localhost'), 2)
            # unknown without a catch-all; a loop is refused as one
            self.assertEqual(rcpt(k, 'zed@localhost')[0], 550)
            code, text = rcpt(k, 'l1@localhost')
            self.assertEqual(code, 550)
            self.assertIn('5.4.6', text)
            # catch-all, added while the server runs
            k.ctl('alias', 'add', '@localhost', 'alice@localhost')
            self.assertEqual(rcpt(k, 'zed@localhost')[0], 250)
            self.assertEqual(count(k, 'alice@localhost'), 2)
            # an exact user still beats the catch-all
            self.assertEqual(rcpt(k, 'bob@localhost')[0], 250)
            self.assertEqual((count(k, 'alice@localhost'),
                              count(k, 'bob@localhost')), (2, 3))
            # alias del of one target, then of the whole alias
            k.ctl('alias', 'del', 'team@localhost', 'bob@localhost')
            self.assertEqual(rcpt(k, 'team@localhost')[0], 250)
            self.assertEqual((count(k, 'alice@localhost'),
                              count(k, 'bob@localhost')), (3, 3))
            k.ctl('alias', 'del', '@localhost')
            k.ctl('alias', 'del', 'team@localhost')
            self.assertEqual(rcpt(k, 'team@localhost')[0], 550)
            self.assertNotIn('team@localhost',
                             k.ctl('alias', 'list').stdout.decode())


if __name__ == '__main__':
    unittest.main(verbosity=2)
