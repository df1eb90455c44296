"""fetchmail, as a user would run it, against kurird's POP3: once over
POP3 upgraded with STLS and once over POP3S, each message handed to an MDA
that writes it to a file.  The messages arrive whole and leave the server
(fetchmail's default: DELE, then QUIT).
"""
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402
import test_pop3 as tp  # noqa: E402

FETCHMAIL = shutil.which('fetchmail')


class Fetchmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = kt.backends()[0]
        cls.k = kt.Kurird(storage=cls.backend, protocols='pop3',
                          # No plaintext login even on loopback: the
                          # STLS run must really upgrade to log in.
                          overrides={'auth_throttle_exempt': '127.0.0.0/8',
                                     'allow_plaintext_loopback': 'no'},
                          workers=1).start()
        cls.tmp = tempfile.mkdtemp(prefix='kurir-fetchmail-')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        tp.check_clean_stop(cls.k)

    def put(self, user, data):
        tp.storeput(self.k, user, data)

    def fetch(self, name, service, options):
        user = '%s@localhost' % name
        self.k.add_user(user, tp.PASSWORD)
        msgs = [b'From: a@example.org\r\nSubject: %s %d\r\n\r\n'
                b'.leading dot\r\nline %d\r\n..two dots\r\n' % (
                    name.encode(), i, i) for i in range(5)]
        for m in msgs:
            self.put(user, m)
        home = os.path.join(self.tmp, name)
        out = os.path.join(home, 'out')
        os.makedirs(out)
        mda = os.path.join(home, 'mda.sh')
        with open(mda, 'w') as f:
            f.write('#!/bin/sh\nexec cat > "%s/msg.$$"\n' % out)
        os.chmod(mda, 0o755)
        rc = os.path.join(home, 'fetchmailrc')
        with open(rc, 'w') as f:
            f.write('set no bouncemail\nset invisible\n'
                    'poll 127.0.0.1 with protocol POP3 port %d timeout 20\n'
                    '  user "%s" there with password "%s" is "%s" here\n'
                    '  options %s no sslcertck fetchall\n'
                    '  mda "%s"\n' % (self.k.port(service), user,
                                      tp.PASSWORD,
                                      pwd.getpwuid(os.getuid()).pw_name,
                                      options, mda))
        os.chmod(rc, stat.S_IRUSR | stat.S_IWUSR)
        env = dict(os.environ, FETCHMAILHOME=home, HOME=home)
        r = subprocess.run([FETCHMAIL, '-f', rc, '--nosyslog', '-v',
                            '--pidfile', os.path.join(home, 'pid')],
                           env=env, capture_output=True, timeout=60)
        log = (r.stdout + r.stderr).decode('utf-8', 'replace')
        self.assertEqual(r.returncode, 0, log)
        got = []
        for fn in os.listdir(out):
            with open(os.path.join(out, fn), 'rb') as f:
                got.append(f.read())
        self.assertEqual(len(got), len(msgs), log)
        # The MDA gets LF line ends and the dots unstuffed; fetchmail may
        # add headers of its own, so compare from the Subject on.
        want = sorted(m.replace(b'\r\n', b'\n') for m in msgs)
        got = sorted(g[g.index(b'From: a@example.org'):] for g in got)
        self.assertEqual(got, want, log)
        st = self.k.ctl('mailbox', 'status', user, 'INBOX').stdout
        self.assertIn(b'messages 0\n', st)
        return log

    def test_stls(self):
        log = self.fetch('stls', 'pop3', 'sslproto "tls1.2+"')
        self.assertRegex(log, r'(?i)stls')

    def test_pop3s(self):
        self.fetch('pop3s', 'pop3s', 'ssl sslproto "tls1.2+"')


if __name__ == '__main__':
    tp.require_server()
    if FETCHMAIL is None:
        print('skip: fetchmail not installed')
        sys.exit(kt.SKIP)
    unittest.main(verbosity=2)
