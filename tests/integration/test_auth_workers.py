"""Logins through a real kurird with more than one worker process and
across a reload: the failed-login throttle counts across workers (an
address is locked after the configured number of failures in total, not
per worker) and keeps its counts over a SIGHUP reload; a reload applies
changed passwd module keys.  The single-worker throttle, mechanism and
kurirctl tests are in test_auth.py."""
import os
import re
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt                                   # noqa: E402
from authclient import Session, protocols_or_skip      # noqa: E402

PROTOS, STORAGE = protocols_or_skip()
EXEMPT = {'auth_throttle_exempt': '127.0.0.0/8 ::1'}
# IMAP LOGIN or POP3 USER/PASS beside AUTHENTICATE PLAIN, when built
LOGIN_PROTO = ([p for p in ('imap', 'pop3') if p in PROTOS] + PROTOS)[0]
CONNECTED = re.compile(r'worker\[(\d+)\] \w+: \S+ \S+: connected to ')


def session_on(k, proto, want=None, tries=20):
    """A Session served by worker pid `want` (any worker when None), and
    that pid: a connection's worker is the pid on the one new
    'connected to' line in the log (we open one connection at a time).
    The kernel does not spread accepts over the workers evenly (one can
    win every time on a busy machine), so the other workers are stopped
    (SIGSTOP) while the connection is made."""
    others = [p for p in k.worker_pids() if p != want] if want else []
    for _ in range(tries):
        for p in others:
            os.kill(p, signal.SIGSTOP)
        try:
            before = len(CONNECTED.findall(k.log_text()))
            s = Session(k, proto)
            new = CONNECTED.findall(k.log_text())[before:]
        finally:
            for p in others:
                os.kill(p, signal.SIGCONT)
        if len(new) == 1 and (want is None or int(new[0]) == want):
            return s, int(new[0])
        s.close()
    raise AssertionError('no connection reached worker %s' % want)


def wait_generation(k, old, timeout=20):
    """After k.reload(): wait until the workers in `old` are gone and new
    ones serve."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = k.worker_pids()
        if now and not set(now) & set(old):
            return now
        time.sleep(0.05)
    raise AssertionError('old workers %s still running' % old)


class SharedThrottle(unittest.TestCase):
    def test_counted_across_workers(self):
        """With 2 workers, an address is locked after the configured
        number of failures in total (here 3 in each worker), not per
        worker; and the counts survive a reload (new workers)."""
        proto, limit = LOGIN_PROTO, 6
        with kt.Kurird(storage=STORAGE, protocols=proto, workers=2,
                       overrides={'auth_throttle_delay_ms': '1',
                                  'auth_throttle_delay_max_ms': '1',
                                  'auth_throttle_ip_failures': str(limit),
                                  'auth_throttle_user_failures': '100',
                                  'auth_throttle_lockout': '1h'}) as k:
            k.add_user('alice@localhost', 'secret')
            workers = k.wait_workers(2)
            self.assertEqual(len(workers), 2)
            per = dict.fromkeys(workers, 0)
            for i in range(limit):
                # a made-up user each time: only the address counts up
                want = min(per, key=per.get)
                s, pid = session_on(k, proto, want)
                user = 'nobody%d@localhost' % i
                self.assertEqual(s.plaintext_login(user, 'nope') if i % 2
                                 else s.plain(user, 'nope'), 'fail')
                s.close()
                per[pid] += 1
            self.assertEqual(sorted(per.values()), [limit // 2] * 2, per)
            # locked in both workers, though each saw only half (with a
            # table per worker, both would still say 'ok')
            for pid in workers:
                s, _ = session_on(k, proto, pid)
                self.assertEqual(s.plain('alice@localhost', 'secret'),
                                 'tempfail')
                s.close()
            # a reload forks new workers: the lockout is still there
            k.reload()
            wait_generation(k, workers)
            s, pid = session_on(k, proto)
            self.assertNotIn(pid, workers)
            self.assertEqual(s.plaintext_login('alice@localhost', 'secret'),
                             'tempfail')
            s.close()


class Reload(unittest.TestCase):
    def test_passwd_file(self):
        """A reload (SIGHUP) applies a changed passwd_file (the passwd
        module reads its keys again in each new worker); before the
        reload the old one stays."""
        proto = PROTOS[0]
        k = kt.Kurird(storage=STORAGE, protocols=proto, workers=1,
                      overrides=EXEMPT)
        try:
            # two passwd files: alice's password is 'one' in a, 'two' in b
            k.add_user('alice@localhost', 'one')
            orig = os.path.join(k.state_dir, 'passwd')
            pa = os.path.join(k.state_dir, 'passwd-a')
            pb = os.path.join(k.state_dir, 'passwd-b')
            shutil.copy(orig, pa)
            k.ctl('user', 'passwd', 'alice@localhost', input=b'two\n')
            shutil.copy(orig, pb)
            st = os.stat(orig)      # the workers' user must read them
            for p in (pa, pb):
                os.chown(p, st.st_uid, st.st_gid)
            k.write_config('passwd_file = %s\n' % pa)
            k.start()

            def login(pw):
                s = Session(k, proto)
                try:
                    return s.plain('alice@localhost', pw)
                finally:
                    s.close()

            self.assertEqual(login('one'), 'ok')
            self.assertEqual(login('two'), 'fail')
            k.write_config('passwd_file = %s\n' % pb)
            # not applied until the reload
            self.assertEqual(login('two'), 'fail')
            self.assertEqual(login('one'), 'ok')
            old = k.worker_pids()
            k.reload()
            wait_generation(k, old)
            self.assertEqual(login('two'), 'ok')
            self.assertEqual(login('one'), 'fail')
            self.assertIn('configuration reloaded', k.log_text())
        finally:
            k.stop()
            k.cleanup()


if __name__ == '__main__':
    unittest.main(verbosity=2)
