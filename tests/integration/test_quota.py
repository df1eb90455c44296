"""Quotas through a real kurird: default_quota_messages applies to a user
whose passwd line sets none, an explicit quota on the line beats it, an
over-quota delivery gets SMTP 552 5.2.2 and stores nothing, and
`kurirctl user show` reports where a quota comes from."""
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

MSG = b'From: x@example.org\r\nSubject: quota test\r\n\r\nbody\r\n'


def count(k, user):
    out = k.ctl('mailbox', 'status', user, 'INBOX').stdout.decode()
    st = dict(line.split() for line in out.splitlines() if line)
    return int(st['messages'])


def send(k, rcpt):
    """Returns the code of the final reply (250 or the DATA error)."""
    s = smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=30)
    try:
        s.ehlo('client.example.org')
        try:
            s.sendmail('x@example.org', [rcpt], MSG)
            return 250, ''
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients[rcpt]
            return code, text.decode()
    finally:
        s.quit()


class Quota(unittest.TestCase):
    def test_default_and_explicit(self):
        for backend in kt.backends():
            with self.subTest(backend=backend), kt.Kurird(
                    storage=backend, protocols='smtp', workers=1,
                    overrides={'default_quota_messages': '2'}) as k:
                k.add_user('alice@localhost', 'pw-a')
                k.add_user('bob@localhost', 'pw-b')
                k.ctl('user', 'set', 'bob@localhost', '--quota-messages',
                      '3')
                show = k.ctl('user', 'show', 'alice@localhost')
                self.assertIn(b'quota_messages: 2 (default)', show.stdout)
                show = k.ctl('user', 'show', 'bob@localhost')
                self.assertIn(b'quota_messages: 3\n', show.stdout)
                for _ in range(2):
                    self.assertEqual(send(k, 'alice@localhost')[0], 250)
                code, text = send(k, 'alice@localhost')
                self.assertEqual(code, 552, text)
                self.assertIn('5.2.2', text)
                self.assertEqual(count(k, 'alice@localhost'), 2)
                for _ in range(3):
                    self.assertEqual(send(k, 'bob@localhost')[0], 250)
                self.assertEqual(send(k, 'bob@localhost')[0], 552)
                self.assertEqual(count(k, 'bob@localhost'), 3)
                # changing something else keeps the default a default
                k.ctl('user', 'set', 'alice@localhost', '--disabled')
                with open(os.path.join(k.state_dir, 'passwd')) as f:
                    line = [x for x in f if x.startswith('alice@')][0]
                self.assertNotIn('quota_messages', line)
                self.assertIn('disabled', line)


if __name__ == '__main__':
    unittest.main(verbosity=2)
