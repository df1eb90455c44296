#!/usr/bin/env python3
"""IMAP module against a real kurird, under every built storage backend.

Python's imaplib and raw sockets: capabilities, LOGIN / AUTHENTICATE,
STARTTLS and implicit TLS (imaps), special-use mailboxes, APPEND of the
sample messages in tests/data/imap with BODY[] read back byte-exact and
BODYSTRUCTURE / ENVELOPE compared with the hand-written expectations,
mailbox commands, SEARCH, STORE, COPY / MOVE (UIDPLUS), EXPUNGE,
pipelining, literal limits and the bad-command BYE; then two sessions:
IDLE wakes on another session's APPEND, STORE and EXPUNGE and on SMTP
delivery (when the smtp module is built), each within one second.
"""
import imaplib
import os
import re
import smtplib
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402

PASSWORD = 'secret pw'
DATA = os.path.join(kt.SRCDIR, 'tests', 'data', 'imap')
SAMPLES = ['plain', 'alternative', 'attachment', 'nested', 'malformed']


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expected(name, ext):
    with open(os.path.join(DATA, name + '.' + ext), 'rb') as f:
        return f.read().rstrip(b'\r\n')


class Raw(kt.LineClient):
    """A raw IMAP client: send a command, collect lines to its tag."""

    def __init__(self, sock):
        super().__init__(sock)
        self.n = 0

    def greeting(self):
        ln = self.line()
        check(ln.startswith('* OK'), 'greeting: %r' % ln)
        return ln

    def tag(self):
        self.n += 1
        return 'r%d' % self.n

    def until(self, tag, timeout=10):
        out = []
        while True:
            ln = self.line(timeout)
            out.append(ln)
            if ln.startswith(tag + ' '):
                return out

    def cmd(self, text, timeout=10):
        t = self.tag()
        self.send('%s %s\r\n' % (t, text))
        out = self.until(t, timeout)
        return out[-1], out

    def read_bytes(self, n, timeout=10):
        self.sock.settimeout(timeout)
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('closed')
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def raw_login(k):
    r = Raw(k.connect('imap'))
    r.greeting()
    st, _ = r.cmd('LOGIN alice@localhost "%s"' % PASSWORD)
    check(' OK ' in st, 'login: %s' % st)
    return r


def imap(k):
    m = imaplib.IMAP4('127.0.0.1', k.port('imap'))
    m.login('alice@localhost', PASSWORD)
    return m


def fetch_raw(m, uid, item):
    """The response bytes of one UID FETCH, literals inlined."""
    typ, data = m.uid('FETCH', str(uid), item)
    check(typ == 'OK', 'fetch %s: %s %r' % (item, typ, data))
    out = b''
    for d in data:
        if isinstance(d, tuple):
            out += d[0] + b'\r\n' + d[1]
        else:
            out += d
    return out


def test_capabilities_and_login(k):
    m = imaplib.IMAP4('127.0.0.1', k.port('imap'))
    caps = set(m.capabilities)
    for c in ('IMAP4REV1', 'IDLE', 'UIDPLUS', 'MOVE', 'NAMESPACE',
              'LITERAL+', 'SPECIAL-USE', 'CHILDREN', 'UNSELECT', 'ENABLE',
              'ID', 'SASL-IR', 'STARTTLS'):
        check(c in caps, 'capability %s missing: %s' % (c, caps))
    try:
        m.login('alice@localhost', 'wrong')
        check(False, 'wrong password accepted')
    except imaplib.IMAP4.error as e:
        check('AUTHENTICATIONFAILED' in str(e), str(e))
    m.login('alice@localhost', PASSWORD)
    typ, data = m.list()
    names = b'\n'.join(data)
    for box, use in (('Drafts', 'Drafts'), ('Sent', 'Sent'),
                     ('Trash', 'Trash'), ('Junk', 'Junk'),
                     ('Archive', 'Archive')):
        check(re.search(br'\\%s[^)]*\) "/" "?%s' % (use.encode(),
                                                     box.encode()), names),
              'special use %s missing: %r' % (box, names))
    check(b'"INBOX"' in names or b' INBOX' in names, names)
    m.logout()
    # STARTTLS, then login; imaps with implicit TLS
    m = imaplib.IMAP4('127.0.0.1', k.port('imap'))
    m.starttls(ssl_context=kt.tls_context())
    check('STARTTLS' not in m.capabilities, 'STARTTLS after TLS')
    m.login('alice@localhost', PASSWORD)
    m.logout()
    m = imaplib.IMAP4_SSL('127.0.0.1', k.port('imaps'),
                          ssl_context=kt.tls_context())
    m.login('alice@localhost', PASSWORD)
    check(m.select('INBOX')[0] == 'OK', 'imaps select')
    m.logout()
    # AUTHENTICATE PLAIN with SASL-IR
    r = Raw(k.connect('imap'))
    r.greeting()
    import base64
    ir = base64.b64encode(b'\0alice@localhost\0' + PASSWORD.encode())
    st, _ = r.cmd('AUTHENTICATE PLAIN ' + ir.decode())
    check(' OK ' in st, 'SASL-IR: %s' % st)
    st, out = r.cmd('NAMESPACE')
    check('* NAMESPACE (("" "/")) NIL NIL' in out, out)
    st, out = r.cmd('ID ("name" "test")')
    check(any(x.startswith('* ID (') for x in out), out)
    st, out = r.cmd('ENABLE CONDSTORE')
    check('* ENABLED' in out[0], out)
    r.close()


def test_append_fetch_samples(k):
    # raw APPEND keeps the bytes as they are (imaplib would turn bare LF
    # into CR LF), imaplib reads them back
    r = raw_login(k)
    uids = {}
    for name in SAMPLES:
        with open(os.path.join(DATA, name + '.eml'), 'rb') as f:
            msg = f.read()
        r.send(b'a APPEND INBOX (\\Seen) {%d}\r\n' % len(msg))
        check(r.line().startswith('+ '), 'no continuation')
        r.send(msg + b'\r\n')
        out = r.until('a')
        mo = re.search(r'\[APPENDUID (\d+) (\d+)\]', out[-1])
        check(mo is not None, 'no APPENDUID: %r' % out)
        uids[name] = (int(mo.group(2)), msg)
    r.close()
    m = imap(k)
    typ, data = m.select('INBOX')
    check(int(data[0]) == len(SAMPLES), 'EXISTS %r' % data)
    for name, (uid, msg) in uids.items():
        got = fetch_raw(m, uid, '(BODY.PEEK[])')
        lit = b'BODY[] {%d}\r\n' % len(msg)
        check(lit in got, '%s: BODY[] literal header: %r' % (name, got[:80]))
        body = got[got.index(lit) + len(lit):][:len(msg)]
        check(body == msg, '%s: BODY[] differs from APPEND' % name)
        got = fetch_raw(m, uid, '(BODYSTRUCTURE)')
        check(b'BODYSTRUCTURE ' + expected(name, 'bodystructure') in got,
              '%s: BODYSTRUCTURE\n got %r\nwant %r' % (
                  name, got, expected(name, 'bodystructure')))
        got = fetch_raw(m, uid, '(BODY)')
        check(b'BODY ' + expected(name, 'body') in got,
              '%s: BODY %r' % (name, got))
        got = fetch_raw(m, uid, '(ENVELOPE)')
        check(b'ENVELOPE ' + expected(name, 'envelope') in got,
              '%s: ENVELOPE\n got %r\nwant %r' % (
                  name, got, expected(name, 'envelope')))
    uid = uids['nested'][0]
    got = fetch_raw(m, uid, '(BODY.PEEK[2.1] BODY.PEEK[2.HEADER] '
                    'BODY.PEEK[1]<2.4>)')
    check(b'BODY[2.1] {8}\r\nin plain' in got, got)
    check(b'BODY[1]<2> {4}\r\ne be' in got, got)
    check(b'BODY[2.HEADER] {' in got and b'Subject: inner' in got, got)
    # a 1 MiB message, byte-exact through the streaming path
    big = b'Subject: big\r\n\r\n' + b''.join(
        b'%08d the quick brown fox jumps\r\n' % i for i in range(30000))
    typ, data = m.append('INBOX', None, None, big)
    buid = int(re.search(rb'APPENDUID \d+ (\d+)', data[0]).group(1))
    got = fetch_raw(m, buid, '(BODY.PEEK[])')
    lit = b'{%d}\r\n' % len(big)
    check(got[got.index(lit) + len(lit):][:len(big)] == big,
          'big BODY[] differs')
    m.logout()


def test_commands(k):
    m = imap(k)
    for i in range(5):
        msg = ('From: sender%d@example.org\r\nTo: alice@localhost\r\n'
               'Subject: note %d\r\n\r\nbody %d %s\r\n' % (
                   i, i, i, 'needle' if i == 2 else '')).encode()
        check(m.append('Work' if False else 'INBOX', None, None,
                       msg)[0] == 'OK', 'append')
    check(m.create('Work/Sub')[0] == 'OK', 'create')
    typ, data = m.list('""', 'Work*')
    check(b'Work/Sub' in b''.join(data), data)
    check(m.rename('Work', 'Projects')[0] == 'OK', 'rename')
    typ, data = m.list('Projects', '*')
    check(b'Projects/Sub' in b''.join(data), data)
    check(m.subscribe('Projects')[0] == 'OK', 'subscribe')
    typ, data = m.lsub('""', 'P*')
    check(b'Projects' in b''.join(data), data)
    check(m.delete('Projects/Sub')[0] == 'OK', 'delete')
    m.select('INBOX')
    typ, data = m.search('UTF-8', 'TEXT', 'needle')
    check(typ == 'OK' and len(data[0].split()) == 1, 'search %r' % data)
    typ, data = m.search(None, 'OR', 'FROM', 'sender1', 'SUBJECT', '"note 3"')
    check(len(data[0].split()) == 2, 'search OR %r' % data)
    typ, data = m.store('1', '+FLAGS', r'(\Flagged $Label)')
    check(b'\\Flagged' in data[0] and b'$Label' in data[0], data)
    typ, data = m.search(None, 'FLAGGED', 'KEYWORD', '$Label')
    check(data[0].split() == [b'1'], data)
    typ, data = m.uid('COPY', '1:2', 'Archive')
    code = m.response('COPYUID')[1]
    check(typ == 'OK' and code[0] is not None and
          re.match(rb'\d+ 1:2 1:2$', code[0]), 'COPYUID: %r' % code)
    typ, data = m.status('Archive', '(MESSAGES UIDNEXT)')
    check(b'MESSAGES 2' in data[0], data)
    typ, data = m._simple_command('MOVE', '1', 'Trash')
    check(typ == 'OK', 'MOVE %r' % data)
    check(m.response('EXPUNGE')[1] == [b'1'],
          'MOVE expunge %r' % m.untagged_responses)
    m.store('1', '+FLAGS', r'(\Deleted)')
    typ, data = m.expunge()
    check(data == [b'1'], 'expunge %r' % data)
    typ, data = m.fetch('1:*', '(FLAGS UID RFC822.SIZE INTERNALDATE)')
    check(len(data) == 9, 'left %r' % data)
    typ, data = m._simple_command('UNSELECT')
    check(typ == 'OK', 'UNSELECT')
    typ, data = m.select('Archive', readonly=True)
    check(m.store('1', '+FLAGS', r'\Seen')[0] == 'NO', 'read-only store')
    m.close()
    # modified UTF-7 names
    check(m.create('Entw&APw-rfe')[0] == 'OK', 'mUTF-7 create')
    typ, data = m.list('""', 'Entw*')
    check(b'Entw&APw-rfe' in b''.join(data), data)
    m.logout()


def test_raw_protocol(k):
    r = raw_login(k)
    # pipelining: answers in order
    r.send('p1 NOOP\r\np2 SELECT INBOX\r\np3 FETCH 1 UID\r\np4 NOOP\r\n')
    out = r.until('p4')
    tags = [ln.split()[0] for ln in out if ln.startswith('p')]
    check(tags == ['p1', 'p2', 'p3', 'p4'], 'pipeline order %r' % out)
    # LITERAL+ APPEND without waiting
    r.send('a1 APPEND INBOX {5+}\r\nhello\r\n')
    out = r.until('a1')
    check('APPENDUID' in out[-1], out)
    # oversized synchronizing literal: NO before the data
    r.send('x1 LOGIN {999999}\r\n')
    ln = r.line()
    check(ln.startswith('x1 NO') or ln.startswith('x1 BAD'), ln)
    st, _ = r.cmd('NOOP')
    check(' OK ' in st, 'after TOOBIG: %s' % st)
    # bad syntax: BAD, the session goes on
    st, _ = r.cmd('FETCH (')
    check(' BAD ' in st, st)
    st, _ = r.cmd('NOOP')
    check(' OK ' in st, st)
    # oversized non-synchronizing literal: BYE and close
    r.send('x2 LOGIN {999999+}\r\n')
    ln = r.line()
    check(ln.startswith('* BYE'), ln)
    try:
        while True:
            r.line(5)
    except (EOFError, ConnectionError):
        pass
    r.close()
    # too many bad commands in a row
    r = raw_login(k)
    r.send(''.join('b%d FOO\r\n' % i for i in range(20)))
    seen_bye = False
    try:
        while True:
            if r.line(5).startswith('* BYE'):
                seen_bye = True
    except (EOFError, ConnectionError, socket.timeout):
        pass
    check(seen_bye, 'no BYE after bad commands')
    r.close()
    # server still up
    raw_login(k).close()


def test_fetch_store_rename(k):
    """FETCH macros and RFC822 items (implicit \Seen), STORE -FLAGS and
    FLAGS, APPEND date-time, and RENAME of INBOX (RFC 3501 6.3.5)."""
    m = imap(k)
    m.create('Rn')
    msg = (b'From: a@example.org\r\nSubject: macros\r\n'
           b'Date: Tue, 3 Mar 2026 09:00:00 +0000\r\n\r\nthe text\r\n')
    typ, data = m.append('Rn', r'(\Answered $Work)',
                         '"05-Jan-2026 10:11:12 +0100"', msg)
    check(typ == 'OK', 'append with date %r' % data)
    m.select('Rn')
    typ, data = m.fetch('1', 'FAST')
    check(re.search(rb'FLAGS \(\\Answered \\Recent \$Work\) INTERNALDATE '
                    rb'"05-Jan-2026 09:11:12 \+0000" RFC822.SIZE %d\)'
                    % len(msg), data[0]), 'FAST %r' % data)
    typ, data = m.fetch('1', 'ALL')
    check(b'ENVELOPE ("Tue, 3 Mar 2026 09:00:00 +0000" "macros"' in
          data[0] and b'BODY' not in data[0], 'ALL %r' % data)
    typ, data = m.fetch('1', 'FULL')
    check(b'ENVELOPE (' in data[0] and b'BODY ("TEXT" "PLAIN"' in data[0]
          and b'BODYSTRUCTURE' not in data[0], 'FULL %r' % data)
    typ, data = m.fetch('1', '(RFC822.HEADER)')
    check(data[0][1] == msg.split(b'\r\n\r\n')[0] + b'\r\n\r\n',
          'RFC822.HEADER %r' % data)
    typ, data = m.fetch('1', '(FLAGS)')
    check(b'\\Seen' not in data[0], 'RFC822.HEADER set \\Seen')
    typ, data = m.fetch('1', '(RFC822.TEXT)')
    check(data[0][1] == b'the text\r\n', 'RFC822.TEXT %r' % data)
    check(b'\\Seen' in b''.join(x if isinstance(x, bytes) else x[0]
                                for x in data) or
          b'\\Seen' in m.fetch('1', '(FLAGS)')[1][0],
          'RFC822.TEXT did not set \\Seen')
    m.store('1', '-FLAGS', r'(\Seen)')
    typ, data = m.fetch('1', '(RFC822)')
    check(data[0][1] == msg, 'RFC822 %r' % data)
    check(b'\\Seen' in m.fetch('1', '(FLAGS)')[1][0], 'RFC822 \\Seen')
    m.store('1', '-FLAGS', r'(\Seen)')
    typ, data = m.fetch('1', '(BODY[TEXT])')
    check(b'FLAGS (' in data[0][0] or b'FLAGS (' in data[-1],
          'BODY[] without FLAGS in the reply: %r' % data)
    # \Recent: this session claimed the message at SELECT; STORE FLAGS
    # cannot take it away
    typ, data = m.store('1', 'FLAGS', r'(\Draft kw1)')
    check(re.search(rb'FLAGS \(\\Draft \\Recent kw1\)', data[0]),
          'FLAGS %r' % data)
    typ, data = m.store('1', '-FLAGS', r'(kw1)')
    check(re.search(rb'FLAGS \(\\Draft \\Recent\)', data[0]),
          '-FLAGS %r' % data)
    m.close()
    # RENAME INBOX: the messages move, INBOX stays and is empty
    m.select('INBOX')
    typ, data = m.search(None, 'ALL')
    n = len(data[0].split())
    check(n > 0, 'INBOX is empty before RENAME')
    m.close()
    typ, data = m.rename('INBOX', 'Old-Inbox')
    check(typ == 'OK', 'RENAME INBOX %r' % data)
    typ, data = m.status('INBOX', '(MESSAGES)')
    check(b'MESSAGES 0' in data[0], 'INBOX after RENAME %r' % data)
    typ, data = m.status('Old-Inbox', '(MESSAGES)')
    check(b'MESSAGES %d' % n in data[0], 'renamed %r' % data)
    check(m.rename('Rn', 'INBOX')[0] == 'NO', 'RENAME onto INBOX')
    check(m.delete('INBOX')[0] == 'NO', 'DELETE INBOX')
    # move the messages back so later tests see them
    m.select('Old-Inbox')
    check(m._simple_command('MOVE', '1:*', 'INBOX')[0] == 'OK', 'MOVE')
    m.close()
    m.delete('Old-Inbox')
    m.logout()


def test_logindisabled():
    """Without TLS and with plaintext refused even on loopback, LOGIN is
    advertised as disabled and refused; after STARTTLS it works."""
    with kt.Kurird(storage=kt.backends()[0], protocols='imap',
                   overrides={'allow_plaintext_loopback': 'no'}) as k:
        k.add_user('alice@localhost', PASSWORD)
        m = imaplib.IMAP4('127.0.0.1', k.port('imap'))
        check('LOGINDISABLED' in m.capabilities, m.capabilities)
        check('AUTH=PLAIN' not in m.capabilities, m.capabilities)
        try:
            m.login('alice@localhost', PASSWORD)
            check(False, 'LOGIN accepted without TLS')
        except imaplib.IMAP4.error as e:
            check('PRIVACYREQUIRED' in str(e), str(e))
        m.starttls(ssl_context=kt.tls_context())
        check('LOGINDISABLED' not in m.capabilities, m.capabilities)
        m.login('alice@localhost', PASSWORD)
        m.logout()


def wait_for(r, pattern, timeout=1.0):
    """Read untagged lines until one matches; return elapsed seconds."""
    t0 = time.time()
    while True:
        left = timeout - (time.time() - t0)
        check(left > 0, 'no %r within %.1fs' % (pattern, timeout))
        ln = r.line(left)
        if re.search(pattern, ln):
            return time.time() - t0


def test_idle_two_sessions(k, with_smtp):
    a = imap(k)
    a.select('INBOX')
    typ, data = a.search(None, 'ALL')
    n = len(data[0].split())
    b = raw_login(k)
    b.cmd('SELECT INBOX')
    b.send('i1 IDLE\r\n')
    check(b.line().startswith('+'), 'IDLE continuation')
    a.append('INBOX', None, None, b'Subject: idle\r\n\r\nwake up\r\n')
    dt = wait_for(b, r'^\* %d EXISTS' % (n + 1))
    print('IDLE saw APPEND after %.0f ms' % (dt * 1000))
    a.store(str(n + 1), '+FLAGS', r'(\Flagged)')
    wait_for(b, r'^\* %d FETCH .*\\Flagged' % (n + 1))
    a.store(str(n + 1), '+FLAGS', r'(\Deleted)')
    a.expunge()
    wait_for(b, r'^\* %d EXPUNGE' % (n + 1))
    if with_smtp:
        s = smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=10)
        s.sendmail('someone@example.org', ['alice@localhost'],
                   b'Subject: by smtp\r\n\r\nhi\r\n')
        s.quit()
        dt = wait_for(b, r'^\* %d EXISTS' % (n + 1))
        print('IDLE saw SMTP delivery after %.0f ms' % (dt * 1000))
    b.send('DONE\r\n')
    out = b.until('i1')
    check(' OK ' in out[-1], out)
    b.close()
    a.logout()


def run(backend):
    protos = 'imap smtp' if kt.have_module('smtp') else 'imap'
    with kt.Kurird(storage=backend, protocols=protos) as k:
        k.add_user('alice@localhost', PASSWORD)
        for t in (test_capabilities_and_login, test_append_fetch_samples,
                  test_commands, test_fetch_store_rename,
                  test_raw_protocol):
            t0 = time.time()
            t(k)
            print('%s %s: ok (%.1fs)' % (backend, t.__name__,
                                         time.time() - t0))
        test_idle_two_sessions(k, 'smtp' in protos)
        print('%s test_idle_two_sessions: ok' % backend)


def main():
    kt.require_modules('imap')
    backends = kt.backends()
    if not backends:
        print('skip: no storage module built')
        return kt.SKIP
    for b in backends:
        run(b)
    test_logindisabled()
    print('test_logindisabled: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
