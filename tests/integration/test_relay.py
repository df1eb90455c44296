#!/usr/bin/env python3
"""Outbound relay: the smtp module queues, the relay module delivers to a
test peer (smtppeer.py) on loopback through relay_routes.

Covers: delivery (body and envelope intact), mixed recipients each with
their own outcome (2xx, 4xx-then-2xx, 4xx, 5xx), an RFC 3464 bounce in
the sender's INBOX for the 5xx one, aliases forwarding outside, peer down
then up with `kurirctl queue flush`, hold/release/remove, kill -9 with
messages queued then restart: every message delivered exactly once."""
import email
import email.policy
import os
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


def server(peer_port, retry, extra=None):
    o = {'protocols': 'smtp relay',
         'relay_routes': 'example.net=127.0.0.1:%d' % peer_port}
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


def t_delivery_mixed_bounce_alias(tmp):
    port = kt.free_port()
    peer = smtppeer.Peer(port, tmp).start()
    k = server(port, '1s')
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
        check('queue ' in k.log_text(), 'no queue id in the log')

        # 2. mixed recipients in one message, with a local one
        submit(k, ['ok2@example.net', 'perm2@example.net',
                   'flaky2@example.net', 'temp2@example.net',
                   'bob@localhost'], body('mixed'),
               rcpt_options=[])
        wait_for('flaky retried', lambda: sum(
            1 for m in peer.log() if 'flaky2@example.net' in m['rcpts']))
        time.sleep(1.5)
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
        msgs = wait_for('bounce', lambda: stored(k, 'alice@localhost'))
        check(len(msgs) == 1, 'one bounce, got %d' % len(msgs))
        m = email.message_from_bytes(msgs[0], policy=email.policy.compat32)
        check(m.get_content_type() == 'multipart/report', m['Content-Type'])
        check(m.get_param('report-type') == 'delivery-status', 'type')
        parts = m.get_payload()
        check(len(parts) == 3, 'three parts')
        check(parts[0].get_content_type() == 'text/plain', 'human part')
        check(parts[1].get_content_type() == 'message/delivery-status',
              parts[1].get_content_type())
        ds = parts[1].as_string()
        check('Reporting-MTA: dns;' in ds, ds)
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
        msgs = wait_for('second bounce', lambda: len(stored(
            k, 'alice@localhost')) == 2 and stored(k, 'alice@localhost'))
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
        # ... but still no open relay
        with smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=20) as s:
            try:
                s.sendmail('x@elsewhere.example', ['ok7@example.net'], b'x')
                fail('open relay')
            except smtplib.SMTPRecipientsRefused:
                pass
    finally:
        k.cleanup()
        peer.stop()


def t_down_up_hold_kill(tmp):
    port = kt.free_port()
    k = server(port, '1h')
    peer = None
    try:
        k.start()
        k.add_user('alice@localhost', PASSWORD)
        # peer down: the message waits in the queue
        submit(k, ['ok1@example.net'], body('down'))
        wait_for('deferral', lambda: deferred(k, 'ok1@example.net'))
        ids = queue_ids(k)
        check(len(ids) == 1, ids)
        # hold it, bring the peer up, flush: nothing moves
        k.ctl('queue', 'hold', ids[0])
        check('HOLD' in k.ctl('queue', 'list').stdout.decode(), 'held')
        peer = smtppeer.Peer(port, tmp).start()
        k.ctl('queue', 'flush')
        time.sleep(1.5)
        check(peer.log() == [], 'a held message was sent')
        # release: delivered at once, exactly once
        k.ctl('queue', 'release', ids[0])
        wait_for('delivery after release', lambda: peer.log())
        wait_for('empty queue', lambda: queue_ids(k) == [])
        check(len(peer.log()) == 1, peer.log())
        peer.stop()
        peer = None

        # kill -9 with messages queued, then restart: all once
        for i in range(5):
            submit(k, ['ok%d@example.net' % (10 + i)], body('k%d' % i))
        wait_for('five queued', lambda: len(queue_ids(k)) == 5)
        k.kill9()
        peer = smtppeer.Peer(port, tmp).start()
        k.start()
        k.ctl('queue', 'flush')
        wait_for('five delivered', lambda: len(peer.log()) >= 6, 30)
        wait_for('empty queue', lambda: queue_ids(k) == [])
        time.sleep(1)
        got = sorted(r for m in peer.log() for r in m['rcpts'])
        check(got == sorted(['ok1@example.net'] + [
            'ok%d@example.net' % (10 + i) for i in range(5)]), got)
        # flush of one id
        peer.stop()
        peer = None
        submit(k, ['ok20@example.net'], body('one id'))
        wait_for('deferral 2', lambda: deferred(k, 'ok20@example.net'))
        peer = smtppeer.Peer(port, tmp).start()
        qid = queue_ids(k)[0]
        k.ctl('queue', 'flush', qid)
        wait_for('flushed id', lambda: any(
            'ok20@example.net' in m['rcpts'] for m in peer.log()))
    finally:
        k.cleanup()
        if peer:
            peer.stop()


def main():
    if not (os.path.exists(kt.KURIRD) and kt.have_module('relay') and
            kt.have_module('smtp') and kt.have_module('lmdb') and
            os.path.exists(STORECAT)):
        print('skip: kurird, relay, smtp, lmdb or storecat not built')
        return kt.SKIP
    for t in (t_delivery_mixed_bounce_alias, t_down_up_hold_kill):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            t(tmp)
            print('ok %s (%.1fs)' % (t.__name__, time.time() - t0))
    return 0


if __name__ == '__main__':
    sys.exit(main())
