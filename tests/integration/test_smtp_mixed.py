#!/usr/bin/env python3
"""One message for local and remote recipients is stored and queued all
or nothing (issue 5: "if any recipient's delivery fails temporarily,
answer 451 and leave none delivered").  The queue entry is prepared
first, then the local copies are committed, then the entry is activated
(core/queue.c); these tests check each way that can go wrong:

- the queue commit fails (the queue directory made read-only after 354):
  451, no local copy, nothing queued or relayed; the client's retry then
  gives exactly one copy everywhere (both backends);
- the local commit fails (over quota): 552 5.2.2 and the prepared queue
  entry is gone, nothing relayed;
- kill -9 while the entry is prepared, before the local commit: after the
  restart the prepared entry is dropped, nobody has the message, the
  retry delivers it once everywhere;
- kill -9 after the local commit, before the activation: the prepared
  entry is dropped and the remote copy is never sent twice; the client
  got no 250, so its retry stores the local copy again (the documented
  side of that crash window).

Remote delivery goes through relay_routes to the test peer (smtppeer).

Also DSN NOTIFY=SUCCESS (RFC 3461) on local delivery: a "delivered"
report (RFC 3464 multipart/report, Action: delivered, Status: 2.0.0)
reaches a local sender's INBOX, or the peer with MAIL FROM:<> for a
remote sender; none for recipients without SUCCESS, none for <>."""
import email
import email.policy
import os
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402
import smtppeer  # noqa: E402
from test_relay import PASSWORD, check, run, stored, wait_for  # noqa: E402

PAUSE = 'KURIR_TEST_QUEUE_PAUSE'


def server(storage, peer_port):
    o = {'protocols': 'smtp relay',
         'relay_routes': 'example.net=127.0.0.1:%d' % peer_port}
    conf = ('queue_retry_schedule = 1s\nrelay_timeout = 10s\n'
            'relay_connect_timeout = 2s\n')
    return kt.Kurird(storage=storage, protocols='smtp', overrides=o,
                     config_text=conf)


def qdir(k):
    return os.path.join(k.state_dir, 'queue')


def qfiles(k, ext):
    try:
        return [n for n in os.listdir(qdir(k))
                if n.endswith(ext) and not n.startswith('tmp.')]
    except FileNotFoundError:
        return []


def body(tag):
    return ('From: alice@localhost\r\nSubject: %s\r\n\r\nhello %s\r\n'
            % (tag, tag)).encode()


def login(k):
    s = smtplib.SMTP('127.0.0.1', k.port('submission'), timeout=20)
    s.ehlo('client.example')
    s.starttls(context=kt.tls_context())
    s.ehlo('client.example')
    s.login('alice@localhost', PASSWORD)
    return s


def start_message(k, rcpts):
    """MAIL, RCPT and DATA up to the 354: the session, ready for data."""
    s = login(k)
    code, _ = s.mail('alice@localhost')
    check(code == 250, 'MAIL %d' % code)
    for r in rcpts:
        code, msg = s.rcpt(r)
        check(code == 250, 'RCPT %s: %d %r' % (r, code, msg))
    code, _ = s.docmd('DATA')
    check(code == 354, 'DATA %d' % code)
    return s


def finish(s, data):
    s.send(data + b'.\r\n')
    return s.getreply()


def send(k, rcpts, data):
    s = start_message(k, rcpts)
    code, msg = finish(s, data)
    s.quit()
    return code, msg


def relayed(peer, tag):
    return [r for m in peer.log() if ('hello %s' % tag) in m['data']
            for r in m['rcpts']]


def copies(k, user, tag):
    return sum(1 for m in stored(k, user)
               if ('hello %s' % tag).encode() in m)


def settle(k):
    """Nothing left in the queue (it was delivered or never queued)."""
    wait_for('empty queue', lambda: not qfiles(k, '.env') and
             not qfiles(k, '.prep') and not qfiles(k, '.msg'))


def t_queue_commit_fails(tmp):
    for backend in kt.backends():
        port = kt.free_port()
        os.mkdir(os.path.join(tmp, backend))
        peer = smtppeer.Peer(port, os.path.join(tmp, backend)).start()
        k = server(backend, port)
        try:
            k.start()
            for u in ('alice', 'bob', 'carol', 'dave'):
                k.add_user('%s@localhost' % u, PASSWORD)
            rcpts = ['bob@localhost', 'carol@localhost', 'ok1@example.net']
            # The queue cannot take the message at commit time: its
            # directory turns read-only after the 354.
            s = start_message(k, rcpts)
            os.chmod(qdir(k), 0o500)
            try:
                code, msg = finish(s, body('fail1'))
            finally:
                os.chmod(qdir(k), 0o700)
            s.quit()
            check(code == 451, '%s: wanted 451, got %d %r' % (backend,
                                                               code, msg))
            check(copies(k, 'bob@localhost', 'fail1') == 0,
                  '%s: bob has a copy after a 451' % backend)
            check(copies(k, 'carol@localhost', 'fail1') == 0,
                  '%s: carol has a copy after a 451' % backend)
            check(not qfiles(k, '.env') and not qfiles(k, '.prep'),
                  'something queued: %r' % os.listdir(qdir(k)))
            # the client's retry: exactly one copy everywhere
            code, msg = send(k, rcpts, body('fail1'))
            check(code == 250, 'retry: %d %r' % (code, msg))
            wait_for('relayed', lambda: relayed(peer, 'fail1'))
            settle(k)
            time.sleep(0.3)
            check(relayed(peer, 'fail1') == ['ok1@example.net'],
                  relayed(peer, 'fail1'))
            check(copies(k, 'bob@localhost', 'fail1') == 1, 'bob: one')
            check(copies(k, 'carol@localhost', 'fail1') == 1, 'carol: one')

            # The local commit fails (dave over quota): 552 5.2.2 and the
            # prepared entry goes with it.
            k.ctl('user', 'set', 'dave@localhost', '--quota-messages', '1')
            code, _ = send(k, ['dave@localhost'], body('first'))
            check(code == 250, 'dave first')
            code, msg = send(k, ['dave@localhost', 'bob@localhost',
                                 'ok2@example.net'], body('quota2'))
            check(code == 552 and b'5.2.2' in msg, (code, msg))
            check(not qfiles(k, '.prep') and not qfiles(k, '.env') and
                  not qfiles(k, '.msg'), os.listdir(qdir(k)))
            check(copies(k, 'bob@localhost', 'quota2') == 0, 'bob: none')
            time.sleep(0.5)
            check(relayed(peer, 'quota2') == [], 'relayed after a 552')
            check(k.stop() == 0, 'clean stop')
            check('ERROR: AddressSanitizer' not in k.log_text(), 'asan')
        finally:
            k.cleanup()
            peer.stop()


def crash_at(k, peer, where, local_done):
    """kill -9 while the producer is held at `where` (prepared, or just
    before the activation), restart, retry."""
    os.environ[PAUSE] = '%s:8000' % where
    try:
        k.start()
    finally:
        del os.environ[PAUSE]
    k.add_user('alice@localhost', PASSWORD)
    k.add_user('bob@localhost', PASSWORD)
    rcpts = ['bob@localhost', 'ok3@example.net']
    s = start_message(k, rcpts)
    reply = []
    t = threading.Thread(target=lambda: reply.append(
        _try_finish(s, body('crash'))))
    t.start()
    wait_for('a prepared entry', lambda: qfiles(k, '.prep'))
    if local_done:
        wait_for('the local copy', lambda: copies(k, 'bob@localhost',
                                                  'crash') == 1)
    # a live producer's prepared entry survives a scan (kurirctl's)
    out = k.ctl('queue', 'list').stdout.decode()
    check('queue is empty' in out, 'a prepared entry is listed: %r' % out)
    check(qfiles(k, '.prep'), 'a live prepared entry was removed')
    k.kill9()
    t.join(10)
    check(reply and reply[0] is None, 'a reply before the crash: %r' % reply)
    s.close()
    check(qfiles(k, '.prep'), 'the prepared entry is on disk')
    k.start()
    # the runner's first scan drops the entry: its client got no 250
    wait_for('prepared entry dropped', lambda: not qfiles(k, '.prep') and
             not qfiles(k, '.msg'))
    check('removing a prepared entry whose producer died' in k.log_text(),
          'recovery not logged')
    check(not qfiles(k, '.env'), os.listdir(qdir(k)))
    check(copies(k, 'bob@localhost', 'crash') == (1 if local_done else 0),
          'bob after the crash: %d' % copies(k, 'bob@localhost', 'crash'))
    time.sleep(0.5)
    check(relayed(peer, 'crash') == [], 'relayed without a 250')
    # the client sends again
    code, msg = send(k, rcpts, body('crash'))
    check(code == 250, 'retry %d %r' % (code, msg))
    wait_for('relayed', lambda: relayed(peer, 'crash'))
    settle(k)
    time.sleep(0.3)
    check(relayed(peer, 'crash') == ['ok3@example.net'],
          'remote copies: %r' % relayed(peer, 'crash'))


def _try_finish(s, data):
    try:
        return finish(s, data)
    except (smtplib.SMTPException, OSError):
        return None


def t_kill_prepared(tmp):
    """Crash before the local commit: nothing anywhere, retry once."""
    port = kt.free_port()
    peer = smtppeer.Peer(port, tmp).start()
    k = server(kt.backends()[-1], port)
    try:
        crash_at(k, peer, 'prepared', False)
        check(copies(k, 'bob@localhost', 'crash') == 1, 'bob: one copy')
    finally:
        k.cleanup()
        peer.stop()


def t_kill_before_activation(tmp):
    """Crash after the local commit: the remote side is never doubled;
    the local copy is stored again by the retry (no 250 was given)."""
    port = kt.free_port()
    peer = smtppeer.Peer(port, tmp).start()
    k = server(kt.backends()[0], port)
    try:
        crash_at(k, peer, 'activate', True)
        check(copies(k, 'bob@localhost', 'crash') == 2,
              'bob: the retry stores a second copy')
    finally:
        k.cleanup()
        peer.stop()


def reports(msgs):
    return [email.message_from_bytes(m, policy=email.policy.compat32)
            for m in msgs if b'report-type=delivery-status' in m]


def check_success_report(m, rcpt, orcpt, envid, absent):
    check(m['Return-Path'] == '<>', 'null sender: %r' % m['Return-Path'])
    check(m.get_content_type() == 'multipart/report', m['Content-Type'])
    check(m.get_param('report-type') == 'delivery-status', 'report-type')
    check(m['Auto-Submitted'] == 'auto-replied', m['Auto-Submitted'])
    parts = m.get_payload()
    check(len(parts) == 3, 'three parts, got %d' % len(parts))
    check(parts[0].get_content_type() == 'text/plain', 'human part')
    check(parts[1].get_content_type() == 'message/delivery-status',
          parts[1].get_content_type())
    ds = parts[1].as_string()
    check('Reporting-MTA: dns;' in ds, ds)
    check('Original-Envelope-Id: %s' % envid in ds, ds)
    check('Final-Recipient: rfc822; %s' % rcpt in ds, ds)
    check('Original-Recipient: %s' % orcpt in ds, ds)
    check('Action: delivered' in ds and 'Status: 2.0.0' in ds, ds)
    check('Action: failed' not in ds, ds)
    for a in absent:
        check(a not in ds, '%s is in the report: %s' % (a, ds))
    # headers only: the body of a delivered message is not returned
    check(parts[2].get_content_type() == 'text/rfc822-headers',
          parts[2].get_content_type())
    check('Subject: dsn' in parts[2].as_string(), 'original headers')
    check('hello dsn' not in m.as_string(), 'the body was returned')


def t_dsn_success(tmp):
    port = kt.free_port()
    peer = smtppeer.Peer(port, tmp).start()
    k = server(kt.backends()[0], port)
    try:
        k.start()
        for u in ('alice', 'bob', 'carol'):
            k.add_user('%s@localhost' % u, PASSWORD)
        # a local sender; bob asks SUCCESS, carol FAILURE only, and a
        # remote recipient with SUCCESS is the next hop's to report
        with login(k) as s:
            s.sendmail('alice@localhost',
                       ['bob@localhost', 'carol@localhost',
                        'ok4@example.net'], body('dsn'),
                       mail_options=['RET=FULL', 'ENVID=env-42'],
                       rcpt_options=['NOTIFY=SUCCESS,FAILURE',
                                     'ORCPT=rfc822;bob@localhost'])
        # smtplib sends the same options with every RCPT: carol again,
        # this time without SUCCESS
        with login(k) as s:
            s.mail('alice@localhost')
            s.rcpt('carol@localhost', ['NOTIFY=FAILURE'])
            code, _ = s.data(body('nodsn'))
            check(code == 250, 'no-dsn message')
        wait_for('the report', lambda: reports(stored(k,
                                                      'alice@localhost')))
        wait_for('relayed', lambda: relayed(peer, 'dsn'))
        settle(k)
        time.sleep(0.5)
        got = reports(stored(k, 'alice@localhost'))
        check(len(got) == 1, 'one report, got %d' % len(got))
        check_success_report(got[0], 'bob@localhost',
                             'rfc822;bob@localhost', 'env-42',
                             ['ok4@example.net'])
        ds = got[0].get_payload()[1].as_string()
        check(ds.count('Final-Recipient:') == 2, ds)  # bob and carol
        check(copies(k, 'bob@localhost', 'dsn') == 1, 'bob: one copy')
        check(copies(k, 'carol@localhost', 'nodsn') == 1, 'carol')
        # the null sender never gets a report
        c = smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=20)
        c.ehlo('x')
        c.sendmail('', ['bob@localhost'], body('null'),
                   rcpt_options=['NOTIFY=SUCCESS'])
        # a remote sender gets it through the queue, from <>
        c.sendmail('someone@example.net', ['bob@localhost'], body('dsn'),
                   mail_options=['ENVID=env-43'],
                   rcpt_options=['NOTIFY=SUCCESS',
                                 'ORCPT=rfc822;Bob@localhost'])
        c.quit()
        log = wait_for('report at the peer', lambda: [
            m for m in peer.log() if m['from'] == ''])
        check(len(log) == 1 and log[0]['rcpts'] == ['someone@example.net'],
              log)
        m = email.message_from_bytes(log[0]['data'].encode('latin-1'),
                                     policy=email.policy.compat32)
        check_success_report(m, 'bob@localhost', 'rfc822;Bob@localhost',
                             'env-43', ['carol'])
        settle(k)
        time.sleep(0.5)
        check(len([m for m in peer.log() if m['from'] == '']) == 1,
              'one report at the peer')
        check(len(reports(stored(k, 'alice@localhost'))) == 1,
              'no report for the null sender')
        check(copies(k, 'bob@localhost', 'null') == 1, 'null delivered')
        check(k.stop() == 0, 'clean stop')
    finally:
        k.cleanup()
        peer.stop()


def main():
    if os.geteuid() == 0 and kt.worker_user() is None:
        print('skip: workers would run as root, whom a read-only '
              'directory does not stop')
        return kt.SKIP
    return run(t_queue_commit_fails, t_kill_prepared,
               t_kill_before_activation, t_dsn_success)


if __name__ == '__main__':
    sys.exit(main())
