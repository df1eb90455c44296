#!/usr/bin/env python3
"""SMTP module against a real kurird, under every built storage backend.

Each delivered message is read back byte for byte through the storage
ABI (tests/integration/storecat).  Covers: smtplib sessions, PIPELINING
in one write, STARTTLS with a pipelined command (must not run), relay
attempts, unknown users, smuggling, BDAT, garbage / NUL / 1 MiB lines
(server stays up), size limit, 200 parallel sessions, kill -9 right after
a 250 (the message survives), submission with STARTTLS+AUTH (smtplib and
swaks), submissions with implicit TLS.
"""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402

STORECAT = os.path.join(kt.BUILDDIR, 'tests', 'integration', 'storecat')
PASSWORD = 'correct horse'
MAX_SIZE = 50 << 20	# max_message_size's default


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def stored(k, user, mailbox='INBOX'):
    """[(uid, bytes)] of the user's mailbox, read through the ABI."""
    a = [STORECAT]
    for key, v in k.opts.items():
        if key.endswith('_listen') or key == 'protocols':
            continue
        a += ['-o', '%s=%s' % (key, v)]
    a += [user, mailbox]
    r = subprocess.run(a, capture_output=True, timeout=60)
    if r.returncode != 0:
        fail('storecat failed: %s' % r.stderr.decode())
    out, msgs = r.stdout, []
    while out:
        head, out = out.split(b'\n', 1)
        uid, size = (int(x) for x in head.split())
        msgs.append((uid, out[:size]))
        check(out[size:size + 1] == b'\n', 'storecat framing')
        out = out[size + 1:]
    return msgs


def split_received(raw):
    """(Received header, rest): the header ends at a CR LF without TAB."""
    check(raw.startswith(b'Received: from '), 'no Received first: %r'
          % raw[:80])
    i = 0
    while True:
        i = raw.index(b'\r\n', i) + 2
        if raw[i:i + 1] != b'\t':
            return raw[:i], raw[i:]


class Client(kt.LineClient):
    def reply(self, timeout=20):
        """One full reply: (code, [lines])."""
        lines = []
        while True:
            ln = self.line(timeout)
            lines.append(ln)
            if len(ln) < 4 or ln[3] != '-':
                return int(ln[:3]), lines

    def cmd(self, text):
        self.send(text + '\r\n')
        return self.reply()


def raw(k, service='smtp'):
    c = Client(k.connect(service))
    code, _ = c.reply()
    check(code == 220, 'greeting %d' % code)
    return c


def message(n, size=600):
    body = ('Line %d of a test message.\r\n' % n) * (size // 28)
    return ('From: sender@remote.example\r\nTo: alice@localhost\r\n'
            'Subject: test %d\r\nMessage-ID: <%d@test>\r\n\r\n' % (n, n) +
            body).encode()


# ---- the tests ---------------------------------------------------------

def t_smtplib_roundtrip(k):
    msg = message(1) + b'.leading dot\r\n..two dots\r\n\xc3\xa9 8bit\r\n'
    with smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=20) as s:
        code, ehlo = s.ehlo('client.example')
        check(code == 250, 'ehlo')
        for ext in (b'PIPELINING', b'SIZE', b'8BITMIME',
                    b'ENHANCEDSTATUSCODES', b'STARTTLS', b'SMTPUTF8',
                    b'CHUNKING', b'DSN'):
            check(ext in ehlo, 'missing %s in %r' % (ext, ehlo))
        r = s.sendmail('sender@remote.example', ['alice@localhost'], msg,
                       mail_options=['BODY=8BITMIME'])
        check(r == {}, 'refused %r' % r)
    msgs = stored(k, 'alice@localhost')
    check(len(msgs) == 1, '%d messages' % len(msgs))
    recv, rest = split_received(msgs[0][1])
    check(rest == msg, 'stored bytes differ:\n%r\n%r' % (rest, msg))
    check(b'with ESMTP id ' in recv and b'for <alice@localhost>' in recv,
          recv)


def t_pipelining(k):
    before = len(stored(k, 'bob@localhost'))
    c = raw(k)
    body = b'Subject: pipelined\r\n\r\nhello\r\n..dot\r\n'
    c.send(b'EHLO client.example\r\nMAIL FROM:<p@remote.example>\r\n'
           b'RCPT TO:<bob@localhost>\r\nRCPT TO:<nobody@localhost>\r\n'
           b'DATA\r\n' + body + b'.\r\nQUIT\r\n')
    codes = [c.reply()[0] for _ in range(7)]
    check(codes == [250, 250, 250, 550, 354, 250, 221], codes)
    c.close()
    msgs = stored(k, 'bob@localhost')
    check(len(msgs) == before + 1, 'bob has %d' % len(msgs))
    check(split_received(msgs[-1][1])[1] ==
          b'Subject: pipelined\r\n\r\nhello\r\n.dot\r\n', msgs[-1][1])


def t_starttls_pipelined(k):
    c = raw(k)
    c.cmd('EHLO client.example')
    # MAIL rides along with STARTTLS: it must be thrown away unread
    c.send('STARTTLS\r\nMAIL FROM:<injected@remote.example>\r\n')
    code, _ = c.reply()
    check(code == 220, 'starttls %d' % code)
    check(c.buf == b'', 'plaintext reply after 220: %r' % c.buf)
    c.starttls()
    code, lines = c.cmd('NOOP')
    check(code == 250, 'noop after tls %r' % lines)
    code, lines = c.cmd('MAIL FROM:<a@remote.example>')
    check(code == 503, 'state not reset after STARTTLS: %r' % lines)
    code, lines = c.cmd('EHLO client.example')
    check(code == 250 and not any('STARTTLS' in ln for ln in lines),
          lines)
    check(c.cmd('QUIT')[0] == 221, 'quit')
    c.close()
    time.sleep(0.1)
    log = k.log_text()
    check('from=<injected@' not in log, 'the injected MAIL ran')
    check(re.search(r'discarding \d+ bytes of pipelined plaintext', log),
          'no discard logged')


def t_relay(k):
    c = raw(k)
    c.cmd('EHLO client.example')
    check(c.cmd('MAIL FROM:<spammer@remote.example>')[0] == 250, 'mail')
    for rcpt in ('victim@example.com', '@localhost:victim@example.com',
                 'victim@[127.0.0.1]', 'victim@LOCALHOST.example.com'):
        code, lines = c.cmd('RCPT TO:<%s>' % rcpt)
        check(code in (550, 554) and '5.7.1' in lines[0],
              'relay to %s: %r' % (rcpt, lines))
    code, lines = c.cmd('RCPT TO:<victim%example.com@localhost>')
    check(code == 550 and '5.1.1' in lines[0], lines)
    code, lines = c.cmd('DATA')
    check(code == 554, 'DATA without recipients: %r' % lines)
    c.close()


def t_smuggling(k):
    before = len(stored(k, 'alice@localhost'))
    bob_before = len(stored(k, 'bob@localhost'))
    c = raw(k)
    c.send(b'EHLO x\r\nMAIL FROM:<a@remote.example>\r\n'
           b'RCPT TO:<alice@localhost>\r\nDATA\r\n')
    check([c.reply()[0] for _ in range(4)] == [250, 250, 250, 354], 'setup')
    c.send(b'Subject: s\r\n\r\nx\r\n.\nMAIL FROM:<evil@remote.example>\r\n'
           b'RCPT TO:<bob@localhost>\r\nDATA\r\nsmuggled\r\n.\r\n')
    code, lines = c.reply()
    check(code == 250, lines)
    c.send(b'NOOP\r\n')
    check(c.reply()[0] == 250, 'noop')
    c.close()
    check(len(stored(k, 'bob@localhost')) == bob_before, 'smuggled to bob')
    msgs = stored(k, 'alice@localhost')
    check(len(msgs) == before + 1, 'alice')
    check(split_received(msgs[-1][1])[1] ==
          b'Subject: s\r\n\r\nx\r\n\r\nMAIL FROM:<evil@remote.example>\r\n'
          b'RCPT TO:<bob@localhost>\r\nDATA\r\nsmuggled\r\n',
          msgs[-1][1])


def t_bdat(k):
    before = len(stored(k, 'alice@localhost'))
    c = raw(k)
    part1 = b'Subject: bdat\r\n\r\n.not stuffed\r\n'
    part2 = b'binary \x00\x01 bare\nlf\r\n'
    c.send(b'EHLO x\r\nMAIL FROM:<a@remote.example>\r\n'
           b'RCPT TO:<alice@localhost>\r\n' +
           b'BDAT %d\r\n' % len(part1) + part1 +
           b'BDAT %d LAST\r\n' % len(part2) + part2 + b'QUIT\r\n')
    codes = [c.reply()[0] for _ in range(6)]
    check(codes == [250, 250, 250, 250, 250, 221], codes)
    c.close()
    msgs = stored(k, 'alice@localhost')
    check(len(msgs) == before + 1, 'bdat stored')
    check(split_received(msgs[-1][1])[1] == part1 + part2, msgs[-1][1])


def t_garbage(k):
    c = raw(k)
    c.send(b'\x00\x01\x02\xff\xfe garbage\r\n')
    check(c.reply()[0] == 500, 'garbage')
    c.send(b'NO\x00OP\r\n')
    check(c.reply()[0] == 500, 'nul')
    c.send(b'NOOP ' + b'A' * (1 << 20) + b'\r\n')
    code, lines = c.reply()
    check(code == 500 and '5.5.2' in lines[0], lines)
    check(c.cmd('NOOP')[0] == 250, 'session goes on')
    c.send(b'EHLO x\r\nMAIL FROM:<a@remote.example>\r\n'
           b'RCPT TO:<alice@localhost>\r\nDATA\r\n')
    check([c.reply()[0] for _ in range(4)] == [250, 250, 250, 354], 'data')
    # a 1 MiB text line: longer than max_line_length, refused at the end
    c.send(b'x' * (1 << 20) + b'\r\n.\r\n')
    code, lines = c.reply()
    check(code == 554, 'long data line: %r' % lines)
    check(c.cmd('NOOP')[0] == 250, 'session goes on')
    c.close()
    # random binary junk on fresh connections; the server must live on
    rnd = os.urandom(65536)
    for i in range(5):
        s = k.connect('smtp')
        s.sendall(rnd[i * 9000:(i + 1) * 9000])
        s.close()
    c = raw(k)
    check(c.cmd('NOOP')[0] == 250, 'server still up')
    c.close()


def t_size_limit(k):
    c = raw(k)
    c.cmd('EHLO x')
    code, lines = c.cmd('MAIL FROM:<a@remote.example> SIZE=999999999999')
    check(code == 552, lines)
    c.close()


def t_parallel(k, n=200):
    before = len(stored(k, 'bob@localhost'))
    errors = []

    def one(i):
        try:
            with smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=60) as s:
                s.sendmail('p%d@remote.example' % i, ['bob@localhost'],
                           message(1000 + i, 2000))
        except Exception as e:  # noqa: BLE001
            errors.append('%d: %r' % (i, e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not errors, 'parallel failures: %s' % errors[:5])
    msgs = stored(k, 'bob@localhost')
    check(len(msgs) == before + n, 'stored %d of %d' % (
        len(msgs) - before, n))
    bodies = set(split_received(m[1])[1] for m in msgs[before:])
    check(bodies == set(message(1000 + i, 2000) for i in range(n)),
          'parallel bodies differ')


def t_submission(k):
    msg = b'Subject: submitted\r\n\r\nfrom alice\r\n'
    with smtplib.SMTP('127.0.0.1', k.port('submission'), timeout=20) as s:
        s.ehlo('client.example')
        try:
            s.sendmail('alice@localhost', ['bob@localhost'], msg)
            fail('sent without AUTH')
        except smtplib.SMTPSenderRefused as e:
            check(e.smtp_code == 530, e)
        s.starttls(context=kt.tls_context())
        s.ehlo('client.example')
        check(s.has_extn('auth'), 'no AUTH after STARTTLS')
        s.login('alice@localhost', PASSWORD)
        try:
            s.sendmail('bob@localhost', ['bob@localhost'], msg)
            fail('sent as someone else')
        except smtplib.SMTPSenderRefused as e:
            check(e.smtp_code == 553, e)
        # An authenticated user's remote recipient goes to the outbound
        # queue (delivered by the relay module, tests in test_relay.py).
        s.sendmail('alice@localhost', ['friend@example.com'], msg)
        q = k.ctl('queue', 'list').stdout.decode()
        check('friend@example.com' in q, 'not queued: %r' % q)
        s.sendmail('alice@localhost', ['bob@localhost'], msg)
    last = stored(k, 'bob@localhost')[-1][1]
    recv, rest = split_received(last)
    check(rest == msg and b'with ESMTPSA id' in recv, last)
    # implicit TLS on submissions
    with smtplib.SMTP_SSL('127.0.0.1', k.port('submissions'), timeout=20,
                          context=kt.tls_context()) as s:
        s.login('alice@localhost', PASSWORD)
        s.sendmail('alice+tag@localhost', ['bob@localhost'], msg)
    recv, rest = split_received(stored(k, 'bob@localhost')[-1][1])
    check(rest == msg and b'with ESMTPSA id' in recv and b'TLSv1' in recv,
          recv)


def t_swaks(k):
    if shutil.which('swaks') is None:
        print('  (swaks not installed: skipped)')
        return
    if k.opts['storage'] != kt.backends()[0]:
        return	# the client side does not depend on the backend
    before = len(stored(k, 'bob@localhost'))
    r = subprocess.run(['swaks', '--server', '127.0.0.1',
                        '--port', str(k.port('submission')),
                        '--from', 'alice@localhost', '--to', 'bob@localhost',
                        '--tls', '--auth', 'PLAIN',
                        '--auth-user', 'alice@localhost',
                        '--auth-password', PASSWORD,
                        '--header', 'Subject: swaks',
                        '--body', 'sent by swaks'],
                       capture_output=True, timeout=60)
    check(r.returncode == 0, 'swaks: %s' % r.stdout.decode()[-2000:])
    msgs = stored(k, 'bob@localhost')
    check(len(msgs) == before + 1 and b'sent by swaks' in msgs[-1][1],
          'swaks message missing')


def ehlo_exts(c, name='client.example'):
    """EHLO on a LineClient: the set of keywords (first word per line)."""
    code, lines = c.cmd('EHLO ' + name)
    check(code == 250, 'ehlo %r' % lines)
    return {ln[4:].split(' ')[0].upper(): ln[4:] for ln in lines[1:]}


def t_commands(k):
    """The RFC 5321 commands and codes, each reply with its enhanced
    status code (RFC 2034: all but the greeting and HELO/EHLO)."""
    sessions = [
        [('NOOP', 250), ('HELP', 214), ('VRFY alice', 252), ('VRFY', 501),
         ('EXPN staff', 502), ('RSET', 250), ('TURN', 502),
         ('MAIL FROM:<a@remote.example>', 503), ('FOO', 500),
         ('HELO', 501), ('RCPT TO:<alice@localhost>', 503),
         ('DATA', 503), ('QUIT', 221)],
        [('HELO client.example', 250), ('RCPT TO:<alice@localhost>', 503),
         ('MAIL FROM:<a@remote.example> SIZE=10', 555),
         ('MAIL FROM:a@remote.example', 501),
         ('MAIL FROM:<a@remote.example>', 250),
         ('MAIL FROM:<a@remote.example>', 503),
         ('RCPT TO:<alice@localhost>', 250), ('DATA x', 501),
         ('RSET', 250), ('QUIT', 221)]]
    for want in sessions:
        c = raw(k)
        for cmd, code in want:
            got, lines = c.cmd(cmd)
            check(got == code, '%s: wanted %d, got %r' % (cmd, code, lines))
            if cmd.startswith('HELO '):
                continue
            for ln in lines:
                check(re.match(r'^\d{3}[- ][245]\.\d{1,3}\.\d{1,3} ', ln),
                      '%s: no enhanced status code in %r' % (cmd, ln))
        c.close()


def t_ehlo_per_port(k):
    """What each service advertises, before and after TLS."""
    common = {'PIPELINING', 'SIZE', '8BITMIME', 'ENHANCEDSTATUSCODES',
              'SMTPUTF8', 'DSN', 'CHUNKING'}
    # MX, plaintext, loopback with allow_plaintext_loopback = no
    c = raw(k)
    e = ehlo_exts(c)
    check(common <= set(e) and 'STARTTLS' in e and 'AUTH' not in e,
          'smtp plaintext %r' % e)
    check(e['SIZE'] == 'SIZE %d' % MAX_SIZE, e['SIZE'])
    code, lines = c.cmd('AUTH PLAIN AGFsaWNlQGxvY2FsaG9zdABjb3JyZWN0')
    check(code == 530 and '5.7.0' in lines[0], lines)
    check(c.cmd('STARTTLS')[0] == 220, 'starttls')
    c.starttls()
    e = ehlo_exts(c)
    check(common <= set(e) and 'STARTTLS' not in e and 'AUTH' in e,
          'smtp tls %r' % e)
    c.close()
    # submission, plaintext: STARTTLS, no AUTH, MAIL needs AUTH
    c = raw(k, 'submission')
    e = ehlo_exts(c)
    check(common <= set(e) and 'STARTTLS' in e and 'AUTH' not in e,
          'submission plaintext %r' % e)
    code, lines = c.cmd('MAIL FROM:<alice@localhost>')
    check(code == 530 and '5.7.0' in lines[0], lines)
    code, lines = c.cmd('AUTH PLAIN AGFsaWNlQGxvY2FsaG9zdABjb3JyZWN0')
    check(code == 530 and '5.7.0' in lines[0], lines)
    check(c.cmd('STARTTLS')[0] == 220, 'starttls')
    c.starttls()
    e = ehlo_exts(c)
    check(common <= set(e) and 'STARTTLS' not in e and 'AUTH' in e and
          'PLAIN' in e['AUTH'].split(), 'submission tls %r' % e)
    code, lines = c.cmd('MAIL FROM:<alice@localhost>')
    check(code == 530 and '5.7.0' in lines[0], lines)
    c.close()
    # submissions: TLS from the first byte (RFC 8314)
    s = kt.tls_context().wrap_socket(k.connect('submissions'))
    c = Client(s)
    check(c.reply()[0] == 220, 'greeting over implicit TLS')
    e = ehlo_exts(c)
    check(common <= set(e) and 'STARTTLS' not in e and 'AUTH' in e,
          'submissions %r' % e)
    code, lines = c.cmd('STARTTLS')
    check(code == 503, lines)
    code, lines = c.cmd('MAIL FROM:<alice@localhost>')
    check(code == 530 and '5.7.0' in lines[0], lines)
    c.close()
    # a plaintext client on the implicit-TLS port gets nothing in clear
    s = k.connect('submissions', timeout=1)
    s.sendall(b'EHLO x\r\n')
    try:
        data = s.recv(100)
    except (socket.timeout, OSError):
        data = b''
    check(not data.startswith(b'220') and not data.startswith(b'250'),
          'plaintext on 465: %r' % data)
    s.close()


def t_received_esmtps(k):
    """STARTTLS on the MX port: ESMTPS with the TLS details; SMTPUTF8
    gives UTF8SMTPS (RFC 6531 3.7.3)."""
    before = len(stored(k, 'alice@localhost'))
    c = raw(k)
    c.cmd('EHLO client.example')
    check(c.cmd('STARTTLS')[0] == 220, 'starttls')
    c.starttls()
    c.cmd('EHLO client.example')
    body = 'Subject: caf\u00e9\r\n\r\nvia TLS\r\n'.encode()
    for cmd, code in (('MAIL FROM:<a@remote.example>', 250),
                      ('RCPT TO:<alice@localhost>', 250), ('DATA', 354)):
        check(c.cmd(cmd)[0] == code, cmd)
    c.send(body + b'.\r\n')
    check(c.reply()[0] == 250, 'tls message')
    # UTF-8 sender: refused without SMTPUTF8, accepted with it
    code, lines = c.cmd('MAIL FROM:<j\u00f6rg@r\u00e9mote.example>')
    check(code == 553 and '5.6.7' in lines[0], lines)
    for cmd, code in (('MAIL FROM:<j\u00f6rg@r\u00e9mote.example> '
                       'SMTPUTF8 BODY=8BITMIME', 250),
                      ('RCPT TO:<alice@localhost>', 250), ('DATA', 354)):
        got, lines = c.cmd(cmd)
        check(got == code, '%s: %r' % (cmd, lines))
    c.send(body + b'.\r\n')
    check(c.reply()[0] == 250, 'utf8 message')
    c.cmd('QUIT')
    c.close()
    msgs = stored(k, 'alice@localhost')
    check(len(msgs) == before + 2, 'tls messages stored')
    for m, proto in ((msgs[-2][1], b'ESMTPS'), (msgs[-1][1], b'UTF8SMTPS')):
        recv, rest = split_received(m)
        check(rest == body, rest)
        check(re.match(rb'Received: from client\.example \(\[127\.0\.0\.1\]'
                       rb'\)\r\n\tby \S+ \(kurir\) with ' + proto +
                       rb' id [0-9A-F]{20}\r\n\t\(using TLSv1\.[23] \S+\)'
                       rb'\r\n\tfor <alice@localhost>;\r\n\t'
                       rb'[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} '
                       rb'\d\d:\d\d:\d\d \+0000\r\n$', recv), recv)


def t_multi_rcpt(k):
    """Several recipients, aliases, plus-addressing: one copy per
    mailbox, the same bytes in each."""
    a0 = len(stored(k, 'alice@localhost'))
    b0 = len(stored(k, 'bob@localhost'))
    k.ctl('alias', 'add', 'team@localhost', 'alice@localhost',
          'bob@localhost')
    c = raw(k)
    c.cmd('EHLO client.example')
    body = b'Subject: team\r\n\r\nto all\r\n'
    for cmd, code in (('MAIL FROM:<m@remote.example>', 250),
                      ('RCPT TO:<team@localhost>', 250),
                      ('RCPT TO:<Bob+news@LOCALHOST>', 250),
                      ('RCPT TO:<alice@localhost>', 250), ('DATA', 354)):
        got, lines = c.cmd(cmd)
        check(got == code, '%s: %r' % (cmd, lines))
    c.send(body + b'.\r\n')
    check(c.reply()[0] == 250, 'multi')
    c.close()
    a, b = stored(k, 'alice@localhost'), stored(k, 'bob@localhost')
    check(len(a) == a0 + 1 and len(b) == b0 + 1,
          'copies: alice %d bob %d' % (len(a) - a0, len(b) - b0))
    check(a[-1][1] == b[-1][1], 'copies differ')
    check(split_received(a[-1][1])[1] == body and
          b'for <' not in split_received(a[-1][1])[0], a[-1][1])


def t_streaming(k):
    """A 16 MiB message never sits in a worker's memory while it is
    received: the workers' anonymous memory grows far less than the
    message.  (What the backend does at commit is printed: LMDB keeps
    dirty pages in memory until its transaction commits.)"""
    size = 16 << 20
    asan = 'ASAN_OPTIONS' in os.environ or any(
        'libasan' in open('/proc/%d/maps' % p).read()
        for p in k.worker_pids())
    before = len(stored(k, 'bob@localhost'))

    def anon():
        total = 0
        for pid in k.worker_pids():
            try:
                with open('/proc/%d/status' % pid) as f:
                    for ln in f:
                        if ln.startswith('RssAnon:'):
                            total += int(ln.split()[1]) * 1024
            except OSError:
                pass
        return total
    base = anon()
    peak = [base, base]	# while receiving, while committing
    phase = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            a = anon()
            peak[phase[0]] = max(peak[phase[0]], a)
            time.sleep(0.005)
    th = threading.Thread(target=sample)
    th.start()
    try:
        c = raw(k)
        c.send(b'EHLO x\r\nMAIL FROM:<big@remote.example> SIZE=%d\r\n'
               b'RCPT TO:<bob@localhost>\r\nDATA\r\n' % size)
        check([c.reply()[0] for _ in range(4)] == [250, 250, 250, 354],
              'big setup')
        line = b'y' * 998 + b'\r\n'
        chunk = line * 1024
        for _ in range(size // len(chunk)):
            c.sock.sendall(chunk)
        # the server has read all but what sits in the socket buffers
        time.sleep(0.3)
        phase[0] = 1
        c.send(b'.\r\n')
        code, lines = c.reply(120)
        check(code == 250, lines)
        c.close()
    finally:
        done.set()
        th.join()
    msgs = stored(k, 'bob@localhost')
    check(len(msgs) == before + 1, 'big message stored')
    rest = split_received(msgs[-1][1])[1]
    check(len(rest) == (size // len(chunk)) * len(chunk) and
          rest[:1000] == line, 'big message bytes')
    grew, commit = peak[0] - base, peak[1] - base
    print('  workers\' anonymous memory grew %.1f MiB while receiving a '
          '%d MiB message, %.1f MiB at commit' % (
              grew / 1048576.0, size >> 20, commit / 1048576.0))
    if not asan:
        check(grew < 6 << 20, 'memory grew %d bytes' % grew)


def t_log(k):
    """Envelope logged with the queue id, bodies never."""
    secret = 'BODY-SECRET-%d' % os.getpid()
    with smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=20) as s:
        s.sendmail('log@remote.example', ['alice@localhost'],
                   ('Subject: log\r\n\r\n%s\r\n' % secret).encode())
    time.sleep(0.2)
    log = k.log_text()
    m = re.findall(r'([0-9A-F]{20}): from=<log@remote\.example>', log)
    check(m, 'no from= line:\n%s' % log[-2000:])
    qid = m[-1]
    check(re.search(qid + r': to=<alice@localhost>', log), 'no to= line')
    check(re.search(qid + r': from=<log@remote\.example> size=\d+ '
                    r'nrcpt=1 .*stored', log), 'no stored line')
    check(secret not in log, 'message body in the log')


def t_kill9(k):
    before = len(stored(k, 'alice@localhost'))
    c = raw(k)
    c.send(b'EHLO x\r\nMAIL FROM:<k@remote.example>\r\n'
           b'RCPT TO:<alice@localhost>\r\nDATA\r\n')
    check([c.reply()[0] for _ in range(4)] == [250, 250, 250, 354], 'data')
    body = b'Subject: durable\r\n\r\nsurvives kill -9\r\n'
    c.send(body + b'.\r\n')
    check(c.reply()[0] == 250, 'not accepted')
    k.kill9()
    c.close()
    k.start()
    msgs = stored(k, 'alice@localhost')
    check(len(msgs) == before + 1, 'lost after kill -9')
    check(split_received(msgs[-1][1])[1] == body, msgs[-1][1])


# ---- a second server with small limits -------------------------------

LIMIT_SIZE = 20000
POLICY_CONFIG = ('smtp_max_recipients = 3\nsmtp_max_errors = 3\n'
                 'smtp_command_timeout = 2s\nsmtp_connections_per_ip = 3\n'
                 'smtp_bare_newline = reject\n')


def p_size(k):
    """max_message_size: advertised, refused at MAIL SIZE= and while
    receiving (nothing stored, the session goes on)."""
    before = len(stored(k, 'bob@localhost'))
    c = raw(k)
    e = ehlo_exts(c)
    check(e['SIZE'] == 'SIZE %d' % LIMIT_SIZE, e['SIZE'])
    code, lines = c.cmd('MAIL FROM:<a@remote.example> SIZE=%d'
                        % (LIMIT_SIZE + 1))
    check(code == 552 and '5.3.4' in lines[0], lines)
    for cmd in ('MAIL FROM:<a@remote.example> SIZE=100',
                'RCPT TO:<bob@localhost>'):
        check(c.cmd(cmd)[0] == 250, cmd)
    check(c.cmd('DATA')[0] == 354, 'data')
    line = b'z' * 78 + b'\r\n'
    c.send(line * (LIMIT_SIZE // 80 + 1) + b'.\r\n')
    code, lines = c.reply()
    check(code == 552 and '5.3.4' in lines[0], lines)
    # exactly at the limit is fine (the Received: header is not counted)
    for cmd in ('MAIL FROM:<a@remote.example>', 'RCPT TO:<bob@localhost>'):
        check(c.cmd(cmd)[0] == 250, cmd)
    check(c.cmd('DATA')[0] == 354, 'data')
    c.send(line * (LIMIT_SIZE // 80) + b'.\r\n')
    code, lines = c.reply()
    check(code == 250, lines)
    # BDAT over the limit
    for cmd in ('MAIL FROM:<a@remote.example>', 'RCPT TO:<bob@localhost>'):
        check(c.cmd(cmd)[0] == 250, cmd)
    c.send(b'BDAT %d LAST\r\n' % (LIMIT_SIZE + 1) + b'b' * (LIMIT_SIZE + 1))
    code, lines = c.reply()
    check(code == 552 and '5.3.4' in lines[0], lines)
    check(c.cmd('NOOP')[0] == 250, 'session goes on')
    c.close()
    msgs = stored(k, 'bob@localhost')
    check(len(msgs) == before + 1, 'only the message at the limit: %d'
          % (len(msgs) - before))
    check(len(split_received(msgs[-1][1])[1]) == LIMIT_SIZE, 'size')


def p_recipients(k):
    """smtp_max_recipients: the next RCPT gets 452 4.5.3; the message
    still goes to those accepted."""
    before = len(stored(k, 'bob@localhost'))
    c = raw(k)
    c.cmd('EHLO x')
    c.cmd('MAIL FROM:<a@remote.example>')
    for i in range(3):
        check(c.cmd('RCPT TO:<bob+%d@localhost>' % i)[0] == 250, 'rcpt')
    code, lines = c.cmd('RCPT TO:<alice@localhost>')
    check(code == 452 and '4.5.3' in lines[0], lines)
    check(c.cmd('DATA')[0] == 354, 'data')
    c.send(b'Subject: r\r\n\r\nx\r\n.\r\n')
    check(c.reply()[0] == 250, 'sent')
    c.close()
    check(len(stored(k, 'bob@localhost')) == before + 1, 'one copy')


def p_errors(k):
    """smtp_max_errors: the third error closes the session with 421."""
    c = raw(k)
    check(c.cmd('BOGUS')[0] == 500, 'error 1')
    check(c.cmd('RCPT TO:<x@localhost>')[0] == 503, 'error 2')
    check(c.cmd('MAIL FROM:bad')[0] == 503, 'error 3')
    code, lines = c.reply()
    check(code == 421 and '4.7.0' in lines[0], lines)
    try:
        c.line(5)
        fail('still open after 421')
    except EOFError:
        pass
    c.close()
    # relay attempts count as errors too
    c = raw(k)
    c.cmd('EHLO x')
    c.cmd('MAIL FROM:<s@remote.example>')
    for i in range(3):
        code, lines = c.cmd('RCPT TO:<v%d@example.com>' % i)
        check(code == 554, lines)
    code, lines = c.reply()
    check(code == 421, lines)
    c.close()


def p_per_ip(k):
    """smtp_connections_per_ip counts across both workers: with 3 held,
    every further connection is refused, whichever worker takes it."""
    check(len(k.worker_pids()) == 2, 'two workers')
    held = [raw(k) for _ in range(3)]
    for _ in range(4):
        c = Client(k.connect('smtp'))
        code, lines = c.reply()
        check(code == 421 and '4.7.0' in lines[0], lines)
        c.close()
    held.pop().close()
    time.sleep(0.3)
    c = raw(k)
    check(c.cmd('NOOP')[0] == 250, 'after one closed')
    c.close()
    for h in held:
        h.close()
    time.sleep(0.3)


def p_timeout(k):
    """smtp_command_timeout: an idle client gets 421 4.4.2, then EOF."""
    c = raw(k)
    c.cmd('EHLO x')
    t0 = time.time()
    code, lines = c.reply(10)
    check(code == 421 and '4.4.2' in lines[0], lines)
    check(1.5 < time.time() - t0 < 8, 'timeout after %.1fs'
          % (time.time() - t0))
    try:
        c.line(5)
        fail('open after timeout')
    except EOFError:
        pass
    c.close()


def p_quota(k):
    """Over quota: 552 5.2.2, and with another recipient in the same
    message nobody gets it (all or none)."""
    b0 = len(stored(k, 'bob@localhost'))
    c0 = len(stored(k, 'carol@localhost'))
    big = b'Subject: q\r\n\r\n' + b'q' * 78 + b'\r\n'
    big = big * 60	# about 5.6 KB, over carol's 4000 bytes
    c = raw(k)
    c.cmd('EHLO x')
    for rcpts in (['carol@localhost'], ['bob@localhost',
                                        'carol@localhost']):
        c.cmd('MAIL FROM:<a@remote.example>')
        for r in rcpts:
            check(c.cmd('RCPT TO:<%s>' % r)[0] == 250, r)
        check(c.cmd('DATA')[0] == 354, 'data')
        c.send(big + b'.\r\n')
        code, lines = c.reply()
        check(code == 552 and '5.2.2' in lines[0], lines)
    c.close()
    check(len(stored(k, 'bob@localhost')) == b0, 'bob got a copy')
    check(len(stored(k, 'carol@localhost')) == c0, 'carol got it')


def p_bare_reject(k):
    """smtp_bare_newline = reject: 554 5.6.0, nothing stored."""
    before = len(stored(k, 'bob@localhost'))
    c = raw(k)
    c.send(b'EHLO x\r\nMAIL FROM:<a@remote.example>\r\n'
           b'RCPT TO:<bob@localhost>\r\nDATA\r\n')
    check([c.reply()[0] for _ in range(4)] == [250, 250, 250, 354], 'data')
    c.send(b'Subject: b\r\n\r\nbare\nlf\r\n.\r\n')
    code, lines = c.reply()
    check(code == 554 and '5.6.0' in lines[0], lines)
    c.close()
    check(len(stored(k, 'bob@localhost')) == before, 'stored anyway')


def p_dsn(k):
    """DSN parameters (RFC 3461) are accepted, checked and kept (logged
    with the recipient for the outbound queue)."""
    c = raw(k)
    c.cmd('EHLO x')
    code, lines = c.cmd('MAIL FROM:<d@remote.example> RET=HDRS '
                        'ENVID=env+2B1')
    check(code == 250, lines)
    code, lines = c.cmd('RCPT TO:<bob@localhost> NOTIFY=SUCCESS,FAILURE '
                        'ORCPT=rfc822;bob+40localhost')
    check(code == 250, lines)
    code, lines = c.cmd('RCPT TO:<alice@localhost> NOTIFY=NEVER,DELAY')
    check(code == 501 and '5.5.4' in lines[0], lines)
    check(c.cmd('DATA')[0] == 354, 'data')
    c.send(b'Subject: dsn\r\n\r\nx\r\n.\r\n')
    code, lines = c.reply()
    check(code == 250, lines)
    qid = lines[0].split()[-1]
    c.close()
    time.sleep(0.2)
    log = k.log_text()
    check(re.search(qid + r': to=<bob@localhost> notify=SF '
                    r'orcpt=rfc822;bob\+40localhost', log), 'dsn rcpt log')
    check(re.search(qid + r': .* envid=env\+2B1 ret=HDRS', log),
          'dsn mail log')


def p_catchall(k):
    """A domain's catch-all alias takes any local part there; other
    domains stay refused."""
    before = len(stored(k, 'bob@localhost'))
    k.ctl('alias', 'add', '@catchall.test', 'bob@localhost')
    c = raw(k)
    c.cmd('EHLO x')
    c.cmd('MAIL FROM:<a@remote.example>')
    code, lines = c.cmd('RCPT TO:<anything.at.all@CatchAll.test>')
    check(code == 250, lines)
    code, lines = c.cmd('RCPT TO:<someone@elsewhere.test>')
    check(code == 554 and '5.7.1' in lines[0], lines)
    check(c.cmd('DATA')[0] == 354, 'data')
    c.send(b'Subject: c\r\n\r\ncatch\r\n.\r\n')
    check(c.reply()[0] == 250, 'sent')
    c.close()
    msgs = stored(k, 'bob@localhost')
    check(len(msgs) == before + 1 and
          msgs[-1][1].endswith(b'\r\n\r\ncatch\r\n'), 'catch-all')


def p_timeout_start(k):
    """p_timeout in a thread while the next tests run."""
    res = []

    def go():
        try:
            p_timeout(k)
            res.append(None)
        except Exception as e:  # noqa: BLE001
            res.append(e)
    th = threading.Thread(target=go)
    th.start()
    k.timeout_test = (th, res)


def p_timeout_join(k):
    th, res = k.timeout_test
    th.join(30)
    check(res == [None], 'p_timeout: %r' % res)


POLICY_TESTS = [p_per_ip, p_timeout_start, p_size, p_recipients, p_errors,
                p_quota, p_bare_reject, p_dsn, p_catchall, p_timeout_join]


TESTS = [t_smtplib_roundtrip, t_commands, t_ehlo_per_port, t_pipelining,
         t_starttls_pipelined, t_relay, t_smuggling, t_bdat, t_garbage,
         t_size_limit, t_received_esmtps, t_multi_rcpt, t_submission,
         t_swaks, t_log, t_streaming, t_parallel, t_kill9]


def run(k, be, tests):
    """Run tests, then stop the server: a clean exit, and no sanitizer
    report (leaks, UB) in its log."""
    for t in tests:
        t0 = time.time()
        try:
            t(k)
        except Exception:
            print(k.log_text()[-4000:])
            raise
        print('%s: %s %.2fs' % (be, t.__name__, time.time() - t0))
    # kurird takes SIGTERM only once it runs its workers (it listens a
    # little earlier, and t_kill9 has just restarted it)
    k.wait_workers(1)
    rc = k.stop()
    log = k.log_text()
    check(rc == 0 and 'Sanitizer' not in log and 'runtime error' not in log,
          'kurird exit %r:\n%s' % (rc, log[-4000:]))


def main():
    kt.require_modules('smtp')
    if not os.path.exists(kt.KURIRD) or not os.path.exists(STORECAT):
        print('skip: kurird or storecat not built')
        return kt.SKIP
    backends = kt.backends()
    if not backends:
        print('skip: no storage backend built')
        return kt.SKIP
    for be in backends:
        t0 = time.time()
        # smtp keys go into a config file: kurirctl (no protocol modules
        # loaded) would refuse them as -o overrides
        with kt.Kurird(storage=be, protocols='smtp',
                       overrides={'domains': 'localhost',
                                  'allow_plaintext_loopback': 'no'},
                       config_text='smtp_connections_per_ip = 0\n') as k:
            k.add_user('alice@localhost', PASSWORD)
            k.add_user('bob@localhost', PASSWORD)
            run(k, be, TESTS)
        with kt.Kurird(storage=be, protocols='smtp', workers=2,
                       overrides={'max_message_size': str(LIMIT_SIZE),
                                  'domains': 'localhost catchall.test',
                                  'log_level': 'info'},
                       config_text=POLICY_CONFIG) as k:
            k.add_user('alice@localhost', PASSWORD)
            k.add_user('bob@localhost', PASSWORD)
            k.ctl('user', 'add', 'carol@localhost', '--quota', '4000',
                  input=b'pw\n')
            run(k, be, POLICY_TESTS)
        print('%s: all passed in %.1fs' % (be, time.time() - t0))
    return 0


if __name__ == '__main__':
    sys.exit(main())
