#!/usr/bin/env python3
"""IMAP \\Recent (RFC 3501 2.3.2) against a real kurird, on every backend.

\\Recent is kept the Dovecot way: the first session that SELECTs a
mailbox after mail arrived claims it (RECENT n, FLAGS with \\Recent,
SEARCH RECENT/NEW); any other session sees it as old.  EXAMINE shows
unclaimed mail as \\Recent without claiming it.  Mail arriving while
sessions idle goes to exactly one of them ("* n RECENT").  STATUS RECENT
counts unclaimed mail (or this session's, for the selected mailbox).
STORE and APPEND cannot set \\Recent.  The state survives a restart.
Raw sockets, so every untagged line is checked.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402
import test_imap  # noqa: E402
from test_imap import check  # noqa: E402

USER = 'rita@localhost'
PASSWORD = 'recent pw'


class Raw(test_imap.Raw):
    """test_imap's raw client, logged in as USER."""

    def __init__(self, k):
        super().__init__(k.connect('imap'))
        self.greeting()
        st, _ = self.cmd('LOGIN %s "%s"' % (USER, PASSWORD))
        check(' OK ' in st, 'login: %s' % st)

    def ok(self, text):
        st, out = self.cmd(text)
        check(' OK ' in st, '%s: %s' % (text, out))
        return out


def num(out, what):
    """n of the untagged '* n WHAT' line (None when absent)."""
    for ln in out:
        m = re.match(r'^\* (\d+) %s$' % what, ln)
        if m:
            return int(m.group(1))
    return None


def search(r, prog):
    out = r.ok('SEARCH ' + prog)
    line = [ln for ln in out if ln.startswith('* SEARCH')]
    check(len(line) == 1, 'SEARCH %s: %s' % (prog, out))
    return [int(x) for x in line[0].split()[2:]]


def flags(r, seqset):
    """{seq: flags string} from FETCH FLAGS."""
    res = {}
    for ln in r.ok('FETCH %s FLAGS' % seqset):
        m = re.match(r'^\* (\d+) FETCH \(FLAGS \(([^)]*)\)\)$', ln)
        if m:
            res[int(m.group(1))] = m.group(2)
    return res


def status_recent(r, box='INBOX'):
    out = r.ok('STATUS %s (MESSAGES RECENT)' % box)
    for ln in out:
        m = re.match(r'^\* STATUS \S+ \(MESSAGES (\d+) RECENT (\d+)\)$', ln)
        if m:
            return int(m.group(2))
    raise AssertionError('STATUS: %s' % out)


def append(r, subject, box='INBOX'):
    msg = 'Subject: %s\r\n\r\nbody\r\n' % subject
    r.n += 1
    t = 'r%d' % r.n
    r.send('%s APPEND %s {%d+}\r\n%s\r\n' % (t, box, len(msg), msg))
    out = r.until(t)
    check(' OK ' in out[-1], 'APPEND: %s' % out)


def idle_collect(r, tag, pattern, timeout=3.0):
    """In IDLE: read lines until one matches pattern, then DONE; all
    lines up to the tagged OK."""
    out = []
    t0 = time.time()
    while True:
        left = timeout - (time.time() - t0)
        check(left > 0, 'IDLE: no %r within %.1fs: %s' % (pattern, timeout,
                                                           out))
        ln = r.line(left)
        out.append(ln)
        if re.search(pattern, ln):
            break
    r.send('DONE\r\n')
    out += r.until(tag)
    check(' OK ' in out[-1], 'IDLE end: %s' % out)
    return out


def test_select_claims(k):
    c = Raw(k)                  # appends without selecting
    for i in range(3):
        append(c, 'first %d' % i)
    check(status_recent(c) == 3, 'STATUS RECENT before any SELECT')

    # EXAMINE shows them as \Recent but leaves them unclaimed
    e = Raw(k)
    out = e.ok('EXAMINE INBOX')
    check(num(out, 'RECENT') == 3, 'EXAMINE RECENT: %s' % out)
    check(all('\\Recent' in f for f in flags(e, '1:*').values()),
          'EXAMINE FLAGS')
    check(search(e, 'RECENT') == [1, 2, 3], 'EXAMINE SEARCH RECENT')
    check(status_recent(c) == 3, 'EXAMINE claimed')

    a = Raw(k)
    out = a.ok('SELECT INBOX')
    check(num(out, 'EXISTS') == 3 and num(out, 'RECENT') == 3,
          'first SELECT: %s' % out)
    f = flags(a, '1:*')
    check(sorted(f) == [1, 2, 3] and all('\\Recent' in x
                                         for x in f.values()),
          'first session FLAGS: %s' % f)
    check(search(a, 'RECENT') == [1, 2, 3], 'SEARCH RECENT')
    check(search(a, 'NEW') == [1, 2, 3], 'SEARCH NEW')
    check(search(a, 'OLD') == [], 'SEARCH OLD')
    out = a.ok('STORE 1 +FLAGS (\\Seen)')
    check(any(re.match(r'^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\)\)$', ln)
              for ln in out), 'STORE reply keeps \\Recent: %s' % out)
    check(search(a, 'NEW') == [2, 3], 'SEARCH NEW after \\Seen')
    check(search(a, 'UNSEEN RECENT') == [2, 3], 'SEARCH UNSEEN RECENT')
    check(status_recent(a) == 3, 'STATUS RECENT of the selected mailbox')

    # \Recent cannot be stored or appended (BAD, as Dovecot answers)
    st, _ = a.cmd('STORE 2 +FLAGS (\\Recent)')
    check(' BAD ' in st, 'STORE \\Recent: %s' % st)
    st, _ = a.cmd('STORE 2 -FLAGS (\\Recent)')
    check(' BAD ' in st, 'STORE -\\Recent: %s' % st)
    st, _ = c.cmd('APPEND INBOX (\\Recent) {3+}\r\nx\r\n')
    check(' BAD ' in st, 'APPEND (\\Recent): %s' % st)
    check('\\Recent' in flags(a, '2')[2], 'STORE changed \\Recent')

    # others: the messages are old
    b = Raw(k)
    out = b.ok('SELECT INBOX')
    check(num(out, 'EXISTS') == 3 and num(out, 'RECENT') == 0,
          'second SELECT: %s' % out)
    check(not any('\\Recent' in x for x in flags(b, '1:*').values()),
          'second session FLAGS')
    check(search(b, 'RECENT') == [], 'second SEARCH RECENT')
    check(search(b, 'NEW') == [], 'second SEARCH NEW')
    check(search(b, 'OLD') == [1, 2, 3], 'second SEARCH OLD')
    check(status_recent(c) == 0, 'STATUS RECENT after the claim')
    # the examiner keeps what it was shown
    check(search(e, 'RECENT') == [1, 2, 3], 'examiner lost \\Recent')
    for r in (a, b, c, e):
        r.ok('LOGOUT')
        r.close()


def test_idle(k):
    # one session in IDLE claims new mail: EXISTS then RECENT
    a = Raw(k)
    out = a.ok('SELECT INBOX')
    n = num(out, 'EXISTS')
    check(num(out, 'RECENT') == 0, 'nothing new: %s' % out)
    a.send('i1 IDLE\r\n')
    check(a.line().startswith('+'), 'IDLE continuation')
    c = Raw(k)
    append(c, 'while idle')
    out = idle_collect(a, 'i1', r'^\* 1 RECENT$')
    check('* %d EXISTS' % (n + 1) in out, 'EXISTS: %s' % out)
    check(out.index('* %d EXISTS' % (n + 1)) < out.index('* 1 RECENT'),
          'RECENT before EXISTS: %s' % out)
    check(search(a, 'RECENT') == [n + 1], 'SEARCH RECENT after IDLE')
    n += 1

    # two sessions in IDLE: the new message goes to exactly one
    b = Raw(k)
    check(num(b.ok('SELECT INBOX'), 'RECENT') == 0, 'b SELECT')
    a.send('i2 IDLE\r\n')
    b.send('i3 IDLE\r\n')
    check(a.line().startswith('+') and b.line().startswith('+'), 'IDLE')
    append(c, 'to one of two')
    outa = idle_collect(a, 'i2', r'^\* %d EXISTS$' % (n + 1))
    outb = idle_collect(b, 'i3', r'^\* %d EXISTS$' % (n + 1))
    ra = search(a, 'RECENT')
    rb = search(b, 'RECENT')
    check((n + 1 in ra) != (n + 1 in rb) and n in ra and n not in rb,
          'claimed by both or neither: %s %s' % (ra, rb))
    winner = outa if n + 1 in ra else outb
    check('* %d RECENT' % (2 if winner is outa else 1) in winner,
          'the claiming session got no RECENT: %s' % winner)
    loser = outb if winner is outa else outa
    check(not any(ln.endswith(' RECENT') for ln in loser),
          'RECENT sent to the other session: %s' % loser)

    # EXPUNGE of a recent message lowers the count (no RECENT needed)
    a.ok('STORE %d +FLAGS.SILENT (\\Deleted)' % (n + 1))
    a.ok('EXPUNGE')
    check(len(search(a, 'RECENT')) == len(ra) - (n + 1 in ra),
          'RECENT after EXPUNGE')
    for r in (a, b, c):
        r.ok('LOGOUT')
        r.close()


def test_restart(k):
    c = Raw(k)
    check(status_recent(c) == 0, 'all claimed before the restart')
    append(c, 'before restart')
    append(c, 'before restart 2', box='Drafts')
    c.close()
    k.stop()
    k.start()
    c = Raw(k)
    check(status_recent(c) == 1, 'INBOX unclaimed across the restart')
    check(status_recent(c, 'Drafts') == 1, 'Drafts across the restart')
    a = Raw(k)
    out = a.ok('SELECT INBOX')
    check(num(out, 'RECENT') == 1, 'SELECT after restart: %s' % out)
    check(search(a, 'RECENT') == [num(out, 'EXISTS')], 'which is recent')
    a.ok('LOGOUT')
    a.close()
    k.stop()
    k.start()
    c = Raw(k)
    check(status_recent(c) == 0, 'claim lost across the restart')
    b = Raw(k)
    check(num(b.ok('SELECT INBOX'), 'RECENT') == 0, 'claimed twice')
    b.ok('LOGOUT')
    c.ok('LOGOUT')


def run(backend):
    with kt.Kurird(storage=backend, protocols='imap') as k:
        k.add_user(USER, PASSWORD)
        for t in (test_select_claims, test_idle, test_restart):
            t0 = time.time()
            t(k)
            print('%s %s: ok (%.1fs)' % (backend, t.__name__,
                                         time.time() - t0))


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
