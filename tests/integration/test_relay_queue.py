#!/usr/bin/env python3
"""Outbound queue over time: peer down then up with `kurirctl queue
flush`, hold/release/remove, kill -9 with messages queued then restart
(every message delivered exactly once), connection reuse, and
queue_lifetime expiry (4.4.7), a busy destination that does not hold
the delivery threads.  Helpers are test_relay.py's."""
import email
import email.policy
import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402
import smtppeer  # noqa: E402
from test_relay import (PASSWORD, body, bounces, check, deferred,  # noqa
                        queue_ids, run, server, submit, wait_for)


def t_down_up_hold_kill(tmp):
    port = kt.free_port()
    k = server(port, '1h', extra={'relay_concurrency': '1'})
    peer = None
    # without inotify (a per-user limit reached): the relay polls
    os.environ['KURIR_RELAY_POLL'] = '1'
    try:
        k.start()
        wait_for('polling', lambda: 'polling it every' in k.log_text())
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
        time.sleep(0.5)
        got = sorted(r for m in peer.log() for r in m['rcpts'])
        check(got == sorted(['ok1@example.net'] + [
            'ok%d@example.net' % (10 + i) for i in range(5)]), got)
        # one delivery thread: it kept its connection for the next ones
        check(peer.connections < 5, 'no connection reused: %d for 5 '
              'messages' % peer.connections)
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
        wait_for('empty queue 20', lambda: queue_ids(k) == [])
        time.sleep(0.5)
        got = [r for m in peer.log() for r in m['rcpts']]
        check(got.count('ok20@example.net') == 1, got)
    finally:
        del os.environ['KURIR_RELAY_POLL']
        k.cleanup()
        if peer:
            peer.stop()


def t_expire(tmp):
    """A recipient that keeps failing temporarily bounces with 4.4.7
    once queue_lifetime is over."""
    port = kt.free_port()
    peer = smtppeer.Peer(port, tmp).start()
    k = server(port, '1s', extra={'queue_lifetime': '2s'})
    try:
        k.start()
        k.add_user('alice@localhost', PASSWORD)
        submit(k, ['temp1@example.net', 'ok1@example.net'], body('late'))
        msgs = bounces(k, 1)
        m = email.message_from_bytes(msgs[0], policy=email.policy.compat32)
        ds = m.get_payload()[1].as_string()
        check('Final-Recipient: rfc822; temp1@example.net' in ds, ds)
        check('Action: failed' in ds and 'Status: 4.4.7' in ds, ds)
        check('delivery time expired' in ds and '450 4.2.1' in ds, ds)
        check('ok1@example.net' not in ds, ds)
        wait_for('empty queue', lambda: queue_ids(k) == [])
        check(peer.seen.get('temp1@example.net', 0) >= 2, 'no retry')
        got = [r for m in peer.log() for r in m['rcpts']]
        check(got == ['ok1@example.net'], got)
    finally:
        k.cleanup()
        peer.stop()


def t_busy_destination(tmp):
    """A destination at its limit does not hold the delivery threads:
    with 2 threads and one slot per domain, a message for another domain
    passes five slow ones (1 s each) waiting for example.net; with threads
    waiting for the slot it would come after three of them."""
    port, port2 = kt.free_port(), kt.free_port()
    peer = smtppeer.Peer(port, tmp)
    peer.slow_delay = 1.0
    peer.start()
    other_dir = os.path.join(tmp, 'other')
    os.mkdir(other_dir)
    other = smtppeer.Peer(port2, other_dir).start()
    k = server(port, '1h', routes=',other.example=127.0.0.1:%d' % port2,
               extra={'relay_concurrency': '2',
                      'relay_destination_concurrency': '1'})
    try:
        k.start()
        k.add_user('alice@localhost', PASSWORD)
        with smtplib.SMTP('127.0.0.1', k.port('submission'),
                          timeout=20) as s:
            s.starttls(context=kt.tls_context())
            s.login('alice@localhost', PASSWORD)
            for i in range(5):
                s.sendmail('alice@localhost', ['slow%d@example.net' % i],
                           body('slow%d' % i))
            time.sleep(0.5)     # the slow ones are dispatched by now
            s.sendmail('alice@localhost', ['ok@other.example'],
                       body('other'))
        wait_for('other', lambda: other.log())
        slow_done = len(peer.log())
        check(slow_done <= 2, 'the other domain waited for %d slow '
              'deliveries' % slow_done)
        wait_for('slow ones', lambda: len(peer.log()) == 5)
        wait_for('empty queue', lambda: queue_ids(k) == [])
        check(peer.max_active == 1, peer.max_active)
        got = sorted(m['rcpts'][0] for m in peer.log())
        check(got == ['slow%d@example.net' % i for i in range(5)], got)
    finally:
        k.cleanup()
        peer.stop()
        other.stop()


def main():
    return run(t_down_up_hold_kill, t_expire, t_busy_destination)


if __name__ == '__main__':
    sys.exit(main())
