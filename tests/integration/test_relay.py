#!/usr/bin/env python3
"""Outbound relay: the smtp module queues, the relay module delivers to a
test peer (smtppeer.py) on loopback through relay_routes.  The queue's
life (peer down and up, hold, flush, kill -9, expiry) is in
test_relay_queue.py, which shares the helpers here.

Covers: delivery (body and envelope intact), mixed recipients each with
their own outcome (2xx, 4xx-then-2xx, 4xx, 5xx), an RFC 3464 bounce in
the sender's INBOX for the 5xx one, aliases forwarding outside, peer down
then up with `kurirctl queue flush`, hold/release/remove, kill -9 with
messages queued then restart: every message delivered exactly once,
queue_lifetime expiry (4.4.7)."""
import email
import email.policy
import os
import re
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402
import smtppeer  # noqa: E402

STORECAT = os.path.join(kt.BUILDDIR, 'tests', 'integration', 'storecat')
PASSWORD = 'correct horse'


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait_for(what, pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    fail('timed out waiting for ' + what)


def stored(k, user, mailbox='INBOX'):
    a = [STORECAT]
    for key, v in k.opts.items():
        if key.endswith('_listen') or key == 'protocols':
            continue
        a += ['-o', '%s=%s' % (key, v)]
    a += [user, mailbox]
    r = subprocess.run(a, capture_output=True, timeout=60)
    if r.returncode != 0:
        return []
    out, msgs = r.stdout, []
    while out:
        head, out = out.split(b'\n', 1)
        uid, size = (int(x) for x in head.split())
        msgs.append(out[:size])
        out = out[size + 1:]
    return msgs


def deferred(k, rcpt):
    return any('to=<%s>' % rcpt in ln and ' deferred: ' in ln
               for ln in k.log_text().splitlines())


def queue_ids(k):
    out = k.ctl('queue', 'list').stdout.decode()
    return [ln.split()[0] for ln in out.splitlines()
            if ln and ln != 'queue is empty']


def submit(k, rcpts, body, sender='alice@localhost', **kw):
    with smtplib.SMTP('127.0.0.1', k.port('submission'), timeout=20) as s:
        s.ehlo('client.example')
        s.starttls(context=kt.tls_context())
        s.ehlo('client.example')
        s.login('alice@localhost', PASSWORD)
        refused = s.sendmail(sender, rcpts, body, **kw)
        check(not refused, 'refused: %r' % refused)


def server(peer_port, retry, extra=None, routes=''):
    o = {'protocols': 'smtp relay',
         'relay_routes': 'example.net=127.0.0.1:%d%s' % (peer_port, routes)}
    # The relay's own keys go into a config file: kurirctl (k.ctl) gets
    # the -o overrides but loads no protocol module, so it does not
    # know them.
    conf = ('queue_retry_schedule = %s\nrelay_timeout = 10s\n'
            'relay_connect_timeout = 2s\n' % retry)
    conf += ''.join('%s = %s\n' % kv for kv in (extra or {}).items())
    return kt.Kurird(storage='lmdb', protocols='smtp', overrides=o,
                     config_text=conf)


def body(tag, extra=''):
    return ('From: alice@localhost\r\nSubject: %s\r\n\r\nhello %s\r\n'
            '.leading dot\r\n%s' % (tag, tag, extra)).encode()


def make_cert(tmp):
    cert, key = os.path.join(tmp, 'peer.crt'), os.path.join(tmp, 'peer.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec',
                    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-subj', '/CN=peer.test', '-days', '1', '-keyout', key,
                    '-out', cert], check=True, capture_output=True,
                   timeout=30)
    return cert, key


def bounces(k, n):
    """Wait for n messages in alice's INBOX; return them parsed."""
    msgs = wait_for('%d bounce(s)' % n, lambda: len(stored(
        k, 'alice@localhost')) >= n and stored(k, 'alice@localhost'))
    check(len(msgs) == n, 'wanted %d messages, got %d' % (n, len(msgs)))
    return msgs


def t_delivery_mixed_bounce_alias(tmp):
    port, port_old, port_tls = kt.free_port(), kt.free_port(), \
        kt.free_port()
    peer = smtppeer.Peer(port, tmp).start()
    # an old server: no PIPELINING, no 8BITMIME, SIZE 20000
    old_dir = os.path.join(tmp, 'old')
    os.mkdir(old_dir)
    old = smtppeer.Peer(port_old, old_dir, pipelining=False,
                        eightbit=False, size=20000).start()
    tls_dir = os.path.join(tmp, 'tls')
    os.mkdir(tls_dir)
    tlspeer = smtppeer.Peer(port_tls, tls_dir,
                            tls=make_cert(tls_dir)).start()
    k = server(port, '1s', routes=',old.example=127.0.0.1:%d '
               'tls.example=127.0.0.1:%d auth.example=127.0.0.1:%d;'
               'auth=relay@localhost:s3cret verify.example=127.0.0.1:%d;'
               'tls=verify' % (port_old, port_tls, port_tls, port_tls),
               extra={'relay_destination_concurrency': '1'})
    try:
        k.start()
        k.add_user('alice@localhost', PASSWORD)
        k.add_user('bob@localhost', PASSWORD)
        # 1. plain delivery: envelope and body arrive intact
        submit(k, ['ok1@example.net'], body('one'))
        log = wait_for('delivery', lambda: peer.log())
        check(len(log) == 1, log)
        check(log[0]['from'] == 'alice@localhost', log[0])
        check(log[0]['rcpts'] == ['ok1@example.net'], log[0])
        data = log[0]['data'].encode('latin-1')
        check(data.startswith(b'Received: '), data[:60])
        check(data.endswith(body('one')), data)
        check(log[0]['tls'] is False, 'the peer offered no STARTTLS')
        wait_for('empty queue', lambda: queue_ids(k) == [])
        # the queue id names the message in every line about it
        text = k.log_text()
        qid = re.search(r'queued for 1 remote recipient\(s\) as queue '
                        r'([0-9A-F]+)', text)
        check(qid, 'the smtp log names no queue id')
        qid = qid.group(1)
        for what in ('queued from=<alice@localhost>',
                     'to=<ok1@example.net> relay=127.0.0.1 sent: 250',
                     'removed, every recipient done'):
            check('queue %s: %s' % (qid, what) in text,
                  'no "queue %s: %s" in the log' % (qid, what))

        # 2. mixed recipients in one message, with a local one
        submit(k, ['ok2@example.net', 'perm2@example.net',
                   'flaky2@example.net', 'temp2@example.net',
                   'bob@localhost'], body('mixed'),
               rcpt_options=[])
        wait_for('flaky retried', lambda: sum(
            1 for m in peer.log() if 'flaky2@example.net' in m['rcpts']))
        time.sleep(1.2)
        got = [r for m in peer.log() for r in m['rcpts']]
        check(got.count('ok2@example.net') == 1, got)
        check(got.count('flaky2@example.net') == 1, got)
        check('perm2@example.net' not in got, got)
        check('temp2@example.net' not in got, got)
        check(len(stored(k, 'bob@localhost')) == 1, 'local copy')
        ids = queue_ids(k)
        check(len(ids) == 1, 'temp2 stays queued: %r' % ids)
        show = k.ctl('queue', 'show', ids[0]).stdout.decode()
        check('temp2@example.net pending' in show, show)
        check('perm2@example.net failed' in show, show)
        check('ok2@example.net sent' in show, show)

        # 3. the bounce for perm2: RFC 3464 in alice's INBOX
        msgs = bounces(k, 1)
        m = email.message_from_bytes(msgs[0], policy=email.policy.compat32)
        check(m['Return-Path'] == '<>', 'null sender: %r' % m['Return-Path'])
        check(m['From'].startswith('Mail Delivery System <MAILER-DAEMON@'),
              m['From'])
        check(m['To'] == '<alice@localhost>', m['To'])
        check(m['Auto-Submitted'] == 'auto-replied', m['Auto-Submitted'])
        check(m.get_content_type() == 'multipart/report', m['Content-Type'])
        check(m.get_param('report-type') == 'delivery-status', 'type')
        parts = m.get_payload()
        check(len(parts) == 3, 'three parts')
        check(parts[0].get_content_type() == 'text/plain', 'human part')
        check(parts[1].get_content_type() == 'message/delivery-status',
              parts[1].get_content_type())
        ds = parts[1].as_string()
        check('Reporting-MTA: dns;' in ds, ds)
        check('Arrival-Date: ' in ds, ds)
        check('Remote-MTA: dns; 127.0.0.1' in ds, ds)
        check('Final-Recipient: rfc822; perm2@example.net' in ds, ds)
        check('Action: failed' in ds and 'Status: 5.1.1' in ds, ds)
        check('Diagnostic-Code: smtp; 550 5.1.1' in ds, ds)
        check('temp2' not in ds and 'ok2' not in ds, ds)
        check(parts[2].get_content_type() == 'message/rfc822', 'original')
        check(b'hello mixed' in msgs[0], 'original body returned')

        # 4. remove the one that keeps failing
        k.ctl('queue', 'remove', ids[0])
        check(queue_ids(k) == [], 'removed')
        r = k.ctl('queue', 'show', ids[0], check=False)
        check(r.returncode == 1, 'show of a removed entry')

        # 5. RET=HDRS bounce has only the headers
        submit(k, ['perm5@example.net'], body('hdrs', 'SECRET BODY\r\n'),
               mail_options=['RET=HDRS'])
        msgs = bounces(k, 2)
        m = email.message_from_bytes(msgs[1], policy=email.policy.compat32)
        parts = m.get_payload()
        check(parts[2].get_content_type() == 'text/rfc822-headers',
              parts[2].get_content_type())
        check(b'SECRET BODY' not in msgs[1], 'body returned with HDRS')

        # 6. an alias forwarding outside, from an unauthenticated MX client
        k.ctl('alias', 'add', 'fwd@localhost', 'ok6@example.net')
        with smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=20) as s:
            s.sendmail('someone@elsewhere.example', ['fwd@localhost'],
                       body('forward'))
        wait_for('forward', lambda: any(
            'ok6@example.net' in m['rcpts'] for m in peer.log()))
        fwd = [m for m in peer.log() if 'ok6@example.net' in m['rcpts']]
        check(fwd[0]['from'] == 'someone@elsewhere.example', fwd)
        # ... but still no open relay: 554 5.7.1 without AUTH
        with smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=20) as s:
            try:
                s.sendmail('x@elsewhere.example', ['ok7@example.net'], b'x')
                fail('open relay')
            except smtplib.SMTPRecipientsRefused as e:
                code, text = e.recipients['ok7@example.net']
                check(code == 554 and text.startswith(b'5.7.1'), e)
        check(not any('ok7@example.net' in m['rcpts'] for m in peer.log()),
              'relayed')

        # 7. a remote sender's bounce is queued with a null sender and
        # delivered; a bounce that fails is never bounced itself
        k.ctl('alias', 'add', 'fwd7@localhost', 'perm7@example.net')
        k.ctl('alias', 'add', 'fwd8@localhost', 'perm8@example.net')
        with smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=20) as s:
            s.sendmail('ok7s@example.net', ['fwd7@localhost'], body('b7'))
            s.sendmail('perm8s@example.net', ['fwd8@localhost'],
                       body('b8'))
        dsn = wait_for('remote bounce', lambda: [
            m for m in peer.log() if m['rcpts'] == ['ok7s@example.net']])
        check(dsn[0]['from'] == '', 'bounce sender %r' % dsn[0]['from'])
        check('report-type=delivery-status' in dsn[0]['data'], 'report')
        check('Final-Recipient: rfc822; perm7@example.net' in
              dsn[0]['data'], dsn[0]['data'])
        wait_for('bounce of bounce dropped',
                 lambda: 'bounces are never bounced' in k.log_text())
        wait_for('empty queue 7', lambda: queue_ids(k) == [])
        time.sleep(1.0)
        nulls = [m for m in peer.mail_params if m.startswith('MAIL FROM:<>')]
        check(len(nulls) == 2, 'null-sender transactions: %r' % nulls)
        check(len(stored(k, 'alice@localhost')) == 2, 'stray bounce')

        # 8. an old next hop: one command at a time; 8-bit and too big
        # messages bounce (5.6.3, 5.3.4) rather than being corrupted
        submit(k, ['ok@old.example'], body('old'))
        wait_for('old delivery', lambda: old.log())
        check(old.log()[0]['rcpts'] == ['ok@old.example'], old.log())
        submit(k, ['eight@old.example'], body('caf\xe9'),
               mail_options=['BODY=8BITMIME'])
        submit(k, ['big@old.example'], body('big', 'x' * 998 + '\r\n') +
               ('y' * 998 + '\r\n').encode() * 25)
        msgs = bounces(k, 4)
        reports = b'\n'.join(msgs[2:])
        check(b'Final-Recipient: rfc822; eight@old.example' in reports and
              b'Status: 5.6.3' in reports, reports[:3000])
        check(b'Final-Recipient: rfc822; big@old.example' in reports and
              b'Status: 5.3.4' in reports, reports[:3000])
        check(len(old.log()) == 1, 'only the plain message reached it')
        check(any(' SIZE=' in c for c in old.mail_params),
              'SIZE not declared: %r' % old.mail_params)

        # 9. STARTTLS when the next hop offers it (opportunistic)
        submit(k, ['ok@tls.example'], body('tls'))
        wait_for('tls delivery', lambda: tlspeer.log())
        check(tlspeer.log()[0]['tls'] is True, 'not sent over TLS')
        check(tlspeer.auths == [], 'AUTH without a route asking for it')
        # a route with credentials: AUTH PLAIN after STARTTLS
        submit(k, ['ok@auth.example'], body('auth'))
        wait_for('auth delivery', lambda: len(tlspeer.log()) == 2)
        check(tlspeer.auths == [('relay@localhost', 's3cret')],
              tlspeer.auths)
        check(tlspeer.log()[1]['rcpts'] == ['ok@auth.example'], 'auth')
        # tls=verify: a self-signed next hop is not good enough
        submit(k, ['ok@verify.example'], body('verify'))
        wait_for('verify deferral', lambda: deferred(k, 'ok@verify.example'))
        check('certificate not verified' in k.log_text(), 'reason')
        check(len(tlspeer.log()) == 2, 'sent without verification')
        ids = queue_ids(k)
        check(len(ids) == 1, ids)
        k.ctl('queue', 'remove', ids[0])

        # 10. one delivery at a time to example.net
        # (relay_destination_concurrency = 1), though four slow ones wait
        with smtplib.SMTP('127.0.0.1', k.port('submission'),
                          timeout=20) as s:
            s.starttls(context=kt.tls_context())
            s.login('alice@localhost', PASSWORD)
            for i in range(4):
                s.sendmail('alice@localhost', ['slow%d@example.net' % i],
                           body('slow%d' % i))
        wait_for('slow ones', lambda: sum(
            1 for m in peer.log() if m['rcpts'][0].startswith('slow')) == 4)
        check(peer.max_active == 1, 'transactions at once to example.net: '
              '%d' % peer.max_active)

        # 11. a clean stop (under ASan: no leak report, exit 0)
        wait_for('empty queue 10', lambda: queue_ids(k) == [])
        rc = k.stop()
        check(rc == 0, 'kurird exit status %r' % rc)
        check('Sanitizer' not in k.log_text(), k.log_text()[-3000:])
    finally:
        k.cleanup()
        peer.stop()
        old.stop()
        tlspeer.stop()


def main():
    return run(t_delivery_mixed_bounce_alias)


def run(*tests):
    """Run tests (each gets a temporary directory) if the build has
    what they need."""
    if not (os.path.exists(kt.KURIRD) and kt.have_module('relay') and
            kt.have_module('smtp') and kt.have_module('lmdb') and
            os.path.exists(STORECAT)):
        print('skip: kurird, relay, smtp, lmdb or storecat not built')
        return kt.SKIP
    for t in tests:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            t(tmp)
            print('ok %s (%.1fs)' % (t.__name__, time.time() - t0))
    return 0


if __name__ == '__main__':
    sys.exit(main())
