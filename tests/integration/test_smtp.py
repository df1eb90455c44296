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


TESTS = [t_smtplib_roundtrip, t_pipelining, t_starttls_pipelined, t_relay,
         t_smuggling, t_bdat, t_garbage, t_size_limit, t_submission,
         t_swaks, t_parallel, t_kill9]


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
                       overrides={'domains': 'localhost'},
                       config_text='smtp_connections_per_ip = 0\n') as k:
            k.add_user('alice@localhost', PASSWORD)
            k.add_user('bob@localhost', PASSWORD)
            for t in TESTS:
                print('%s: %s' % (be, t.__name__))
                try:
                    t(k)
                except Exception:
                    print(k.log_text()[-4000:])
                    raise
        print('%s: all passed in %.1fs' % (be, time.time() - t0))
    return 0


if __name__ == '__main__':
    sys.exit(main())
