#!/usr/bin/env python3
"""Many sessions on one mailbox at once, under every built backend.

Four sessions, on two workers, APPEND, STORE flags (set and clear),
mark \\Deleted and EXPUNGE on the same INBOX for a few seconds.  Each
session keeps a model of its view, built only from what the server
told it (EXISTS, EXPUNGE, FETCH), and checks every response against it:
no message disappears from a view without an EXPUNGE, EXISTS never
shrinks the view, a FETCH never names a sequence number beyond the view
or a different UID for a known number, UIDs in a view only ascend, and
no UID is handed out twice (APPENDUID).  At the end every session says
NOOP and its view (UIDs and flags) must equal what a fresh session sees:
all views converge.  Then the server restarts and UIDVALIDITY and UIDs
are unchanged.
"""
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402

PASSWORD = 'secret pw'
USER = 'alice@localhost'
SESSIONS = 4
SECONDS = float(os.environ.get('IMAP_SYNC_SECONDS', '4'))
FLAGS = ['\\Seen', '\\Flagged', '\\Answered', '$Work']

RE_NUM = re.compile(r'^\* (\d+) (EXISTS|EXPUNGE|RECENT)$')
RE_FETCH = re.compile(r'^\* (\d+) FETCH \((.*)\)$')


class ViewError(AssertionError):
    pass


class Session(kt.LineClient):
    def __init__(self, k, name, uids_seen, lock):
        super().__init__(k.connect('imap'))
        self.name = name
        self.n = 0
        self.view = []          # [uid or None, flags or None] per seq
        self.uids_seen = uids_seen
        self.lock = lock
        self.line()
        self.cmd('LOGIN %s "%s"' % (USER, PASSWORD))
        self.cmd('SELECT INBOX')
        self.refresh()

    def fail(self, msg):
        raise ViewError('%s: %s' % (self.name, msg))

    def untagged(self, ln):
        mo = RE_NUM.match(ln)
        if mo:
            n, what = int(mo.group(1)), mo.group(2)
            if what == 'EXISTS':
                if n < len(self.view):
                    self.fail('EXISTS %d shrinks a view of %d' % (
                        n, len(self.view)))
                self.view += [[None, None] for _ in range(n -
                                                           len(self.view))]
            elif what == 'EXPUNGE':
                if n < 1 or n > len(self.view):
                    self.fail('EXPUNGE %d outside a view of %d' % (
                        n, len(self.view)))
                del self.view[n - 1]
            return
        mo = RE_FETCH.match(ln)
        if mo:
            n, items = int(mo.group(1)), mo.group(2)
            if n < 1 or n > len(self.view):
                self.fail('FETCH %d outside a view of %d' % (
                    n, len(self.view)))
            ent = self.view[n - 1]
            u = re.search(r'UID (\d+)', items)
            if u:
                uid = int(u.group(1))
                if ent[0] is not None and ent[0] != uid:
                    self.fail('seq %d was UID %d, FETCH says %d' % (
                        n, ent[0], uid))
                ent[0] = uid
            f = re.search(r'FLAGS \(([^)]*)\)', items)
            if f:
                ent[1] = frozenset(f.group(1).split())

    def cmd(self, text, check_ok=True):
        self.n += 1
        tag = '%s%d' % (self.name, self.n)
        self.send('%s %s\r\n' % (tag, text))
        return self.until(tag, text, check_ok)

    def until(self, tag, text, check_ok=True):
        out = []
        while True:
            ln = self.line(20)
            if ln.startswith(tag + ' '):
                if check_ok and not ln.startswith(tag + ' OK'):
                    self.fail('%s: %s' % (text, ln))
                return ln, out
            if ln.startswith('* '):
                self.untagged(ln)
                out.append(ln)

    def refresh(self):
        """FETCH 1:* (UID FLAGS): fills in every UID, checks order."""
        if not self.view:
            self.cmd('NOOP')
            if not self.view:
                return
        for _ in range(10):
            # numbers are stable during a FETCH; EXISTS for mail that
            # came meanwhile may follow its last response
            n0 = len(self.view)
            self.cmd('FETCH 1:* (UID FLAGS)')
            uids = [e[0] for e in self.view]
            if None in uids[:n0]:
                self.fail('FETCH 1:* left unknown UIDs: %r' % uids)
            if None not in uids:
                break
        # under load, mail may keep arriving after every FETCH: only
        # the tail can still be unknown, and what is known ascends
        known = [u for u in uids if u is not None]
        if known != sorted(set(known)):
            self.fail('UIDs not ascending: %r' % uids)

    def append(self):
        data = ('Subject: from %s\r\n\r\nbody %f\r\n' % (
            self.name, random.random())).encode()
        self.n += 1
        tag = '%s%d' % (self.name, self.n)
        self.send(b'%s APPEND INBOX {%d+}\r\n%s\r\n' % (
            tag.encode(), len(data), data))
        ln, _ = self.until(tag, 'APPEND')
        uid = int(re.search(r'APPENDUID \d+ (\d+)', ln).group(1))
        with self.lock:
            if uid in self.uids_seen:
                self.fail('UID %d handed out twice' % uid)
            self.uids_seen.add(uid)

    def step(self):
        if any(e[0] is None for e in self.view[:1] + self.view[-1:]):
            # learn the UIDs of new messages before picking one
            self.refresh()
        r = random.random()
        known = [e[0] for e in self.view if e[0] is not None]
        if r < 0.3 or not known:
            self.append()
        elif r < 0.6:
            uid = random.choice(known)
            op = random.choice(['+FLAGS', '-FLAGS'])
            self.cmd('UID STORE %d %s (%s)' % (uid, op,
                                                random.choice(FLAGS)))
        elif r < 0.7 and self.view:
            seq = random.randint(1, len(self.view))
            # the message may be gone already: NO or OK are both fine
            self.cmd('STORE %d +FLAGS.SILENT (\\Deleted)' % seq, False)
        elif r < 0.78:
            self.cmd('EXPUNGE')
        elif r < 0.9:
            ln, out = self.cmd('SEARCH ALL')
            for x in out:
                if x.startswith('* SEARCH'):
                    for n in x.split()[2:]:
                        if int(n) > len(self.view):
                            self.fail('SEARCH %s beyond a view of %d' % (
                                n, len(self.view)))
        else:
            self.refresh()


def run(backend):
    with kt.Kurird(storage=backend, protocols='imap', workers=2,
                   overrides={'auth_throttle_exempt': '127.0.0.0/8'}) as k:
        k.add_user(USER, PASSWORD)
        seen, lock = set(), threading.Lock()
        sessions = [Session(k, 's%d' % i, seen, lock)
                    for i in range(SESSIONS)]
        errors = []
        stop = time.time() + SECONDS
        steps = [0] * SESSIONS

        def churn(i, s):
            try:
                random.seed(i)
                while time.time() < stop:
                    s.step()
                    steps[i] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=churn, args=(i, s))
                   for i, s in enumerate(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        # converge: everyone learns the rest, a fresh session compares
        for s in sessions:
            s.cmd('NOOP')
            s.refresh()
        fresh = Session(k, 'f', set(), lock)
        fresh.refresh()
        want = [tuple(e) for e in fresh.view]
        # \Recent is per session: each message is \Recent in at most
        # one view, and the last NOOPs left nothing for a newcomer
        owner = {}
        for s in sessions:
            for uid, f in s.view:
                if '\\Recent' in f:
                    if uid in owner:
                        raise AssertionError('UID %d \\Recent in %s and %s'
                                             % (uid, owner[uid], s.name))
                    owner[uid] = s.name
        if any('\\Recent' in f for _, f in want):
            raise AssertionError('unclaimed \\Recent for a new session: %r'
                                 % want)
        for s in sessions:
            s.cmd('NOOP')
            got = [(u, f - {'\\Recent'}) for u, f in s.view]
            if got != want:
                raise AssertionError('%s view differs from a fresh one:\n'
                                     '%r\n%r' % (s.name, got, want))
        ln, out = fresh.cmd('STATUS INBOX (UIDVALIDITY)')
        uidvalidity = re.search(r'UIDVALIDITY (\d+)', out[0]).group(1)
        for s in sessions + [fresh]:
            s.close()
        print('%s: %d sessions, %d commands in %.0f s, %d UIDs handed out, '
              '%d messages left, views converged' % (
                  backend, SESSIONS, sum(steps), SECONDS, len(seen),
                  len(want)))
        if len(want) >= len(seen):
            raise AssertionError('nothing was expunged: the test did not '
                                 'exercise expunges')
        # UIDVALIDITY and UIDs survive a restart
        k.stop()
        k.start()
        again = Session(k, 'r', set(), lock)
        again.refresh()
        ln, out = again.cmd('STATUS INBOX (UIDVALIDITY)')
        if re.search(r'UIDVALIDITY (\d+)', out[0]).group(1) != uidvalidity:
            raise AssertionError('UIDVALIDITY changed across restart')
        if [e[0] for e in again.view] != [e[0] for e in want]:
            raise AssertionError('UIDs changed across restart')
        again.close()
        print('%s: UIDVALIDITY %s and UIDs unchanged after a restart' % (
            backend, uidvalidity))


def main():
    kt.require_modules('imap')
    backends = kt.backends()
    if not backends:
        print('skip: no storage module built')
        return kt.SKIP
    for b in backends:
        run(b)
    return 0


if __name__ == '__main__':
    sys.exit(main())
