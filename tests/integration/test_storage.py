"""Storage through a real kurird, for every built backend: SMTP delivery
to two local users lands durably in both INBOXes (kurirctl mailbox
status / list see it from another process), survives kill -9 of the
whole server, and many concurrent SMTP sessions on two workers deliver
every message exactly once with distinct UIDs."""
import os
import smtplib
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt                                   # noqa: E402

if (not os.path.exists(kt.KURIRD) or not kt.have_module('smtp') or
        not kt.have_module('passwd') or not kt.backends()):
    print('skip: needs kurird, the smtp and passwd modules and a backend')
    sys.exit(kt.SKIP)

MSG = (b'From: x@example.org\r\nTo: alice@localhost\r\n'
       b'Subject: storage test\r\n\r\n' + b'line of body text\r\n' * 200)


def status(k, user, mailbox='INBOX'):
    out = k.ctl('mailbox', 'status', user, mailbox).stdout.decode()
    return dict((a, int(b)) for a, b in
                (line.split() for line in out.splitlines() if line))


def send(k, rcpts, n=1):
    s = smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=30)
    try:
        s.ehlo('client.example.org')
        for _ in range(n):
            refused = s.sendmail('x@example.org', rcpts, MSG)
            assert not refused, refused
    finally:
        s.quit()


class Storage(unittest.TestCase):
    def test_delivery_durable(self):
        for backend in kt.backends():
            with self.subTest(backend=backend), kt.Kurird(
                    storage=backend, protocols='smtp', workers=2) as k:
                k.add_user('alice@localhost', 'secret pass')
                k.add_user('bob@localhost', 'secret pass')
                send(k, ['alice@localhost', 'bob@localhost'])
                for u in ('alice@localhost', 'bob@localhost'):
                    st = status(k, u)
                    self.assertEqual(st['messages'], 1)
                    self.assertEqual(st['unseen'], 1)
                    self.assertGreater(st['bytes'], len(MSG) - 10)
                out = k.ctl('mailbox', 'list', 'alice@localhost')
                self.assertIn(b'INBOX', out.stdout)
                uidv = status(k, 'alice@localhost')['uidvalidity']
                # 250 meant durable: a crash of everything loses nothing.
                k.kill9()
                k.start()
                st = status(k, 'alice@localhost')
                self.assertEqual(st['messages'], 1)
                self.assertEqual(st['uidvalidity'], uidv)
                send(k, ['alice@localhost'])
                st = status(k, 'alice@localhost')
                self.assertEqual(st['messages'], 2)
                self.assertEqual(st['uidnext'], 3)

    def test_concurrent_sessions(self):
        for backend in kt.backends():
            with self.subTest(backend=backend), kt.Kurird(
                    storage=backend, protocols='smtp', workers=2) as k:
                k.add_user('carol@localhost', 'secret pass')
                errors = []

                def client():
                    try:
                        send(k, ['carol@localhost'], n=4)
                    except Exception as e:   # reported below
                        errors.append(e)
                threads = [threading.Thread(target=client)
                           for _ in range(10)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                self.assertEqual(errors, [])
                st = status(k, 'carol@localhost')
                self.assertEqual(st['messages'], 40)
                # UIDs are distinct and none was skipped by a loser.
                self.assertEqual(st['uidnext'], 41)


if __name__ == '__main__':
    unittest.main(verbosity=2)
