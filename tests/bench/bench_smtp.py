#!/usr/bin/env python3
"""SMTP delivery benchmark (make bench).

20,000 messages of about 4 KiB to 100 local users over the smtp service
at concurrency 20 (each client keeps its session and pipelines
MAIL/RCPT/DATA), per storage backend.  Every 250 means the message is
durable (fsync) in the recipient's store, so the time to the last 250 is
the time until all are stored.  Prints messages/s and the server's CPU
seconds (utime+stime of the kurird master and workers, children
included) per 1,000 messages, then checks every mailbox's count.

Environment: BENCH_SMTP_MESSAGES, BENCH_SMTP_CONCURRENCY, BENCH_SMTP_USERS
override the sizes; BENCH_SMTP_BACKENDS="lmdb maildir" the backends;
BENCH_SMTP_CONFIG="key = value; key2 = value" adds configuration.
"""
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get('KURIR_SRCDIR', '.'),
                                'tests', 'integration'))
import kurirtest as kt  # noqa: E402

MESSAGES = int(os.environ.get('BENCH_SMTP_MESSAGES', '20000'))
CONCURRENCY = int(os.environ.get('BENCH_SMTP_CONCURRENCY', '20'))
USERS = int(os.environ.get('BENCH_SMTP_USERS', '100'))
# e.g. BENCH_SMTP_CONFIG='lmdb_env_cache = 128' (lines of kurir.conf)
EXTRA_CONFIG = os.environ.get('BENCH_SMTP_CONFIG', '').replace(';', '\n')
if EXTRA_CONFIG:
    EXTRA_CONFIG += '\n'


def body(i):
    head = ('From: bench%d@remote.example\r\nTo: user@localhost\r\n'
            'Subject: benchmark message %d\r\nMessage-ID: <%d@bench>\r\n'
            '\r\n' % (i, i, i))
    line = 'The quick brown fox jumps over the lazy dog %08d.\r\n' % i
    return (head + line * ((4096 - len(head)) // len(line))).encode()


class Sender:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), 60)
        self.buf = b''
        self.expect(220)
        self.sock.sendall(b'EHLO bench.example\r\n')
        self.expect(250)

    def reply(self):
        while True:
            i = self.buf.find(b'\n')
            while i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                if line[3:4] != b'-':
                    return int(line[:3]), line
                i = self.buf.find(b'\n')
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('server closed')
            self.buf += chunk

    def expect(self, code):
        c, line = self.reply()
        if c != code:
            raise RuntimeError('wanted %d, got %r' % (code, line))

    def send(self, i, rcpt, data):
        self.sock.sendall(b'MAIL FROM:<bench%d@remote.example> SIZE=%d\r\n'
                          b'RCPT TO:<%s>\r\nDATA\r\n' % (i, len(data),
                                                         rcpt.encode()))
        self.expect(250)
        self.expect(250)
        self.expect(354)
        self.sock.sendall(data + b'.\r\n')
        self.expect(250)

    def close(self):
        self.sock.sendall(b'QUIT\r\n')
        self.sock.close()


def run(backend):
    with kt.Kurird(storage=backend, protocols='smtp',
                   overrides={'log_level': 'notice'},
                   config_text='smtp_connections_per_ip = 0\n' +
                   EXTRA_CONFIG) as k:
        users = ['u%03d@localhost' % i for i in range(USERS)]
        for u in users:
            k.add_user(u, 'benchpass')
        payload = [body(i) for i in range(64)]
        counter = iter(range(MESSAGES))
        lock = threading.Lock()
        errors = []

        def client():
            try:
                s = Sender(k.port('smtp'))
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        break
                    s.send(i, users[i % USERS], payload[i % 64])
                s.close()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        cpu0 = k.cpu_seconds()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.time()
        threads = [threading.Thread(target=client)
                   for _ in range(CONCURRENCY)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        cpu = k.cpu_seconds() - cpu0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        client = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime -
                                                  ru0.ru_stime)
        if errors:
            print('errors: %s' % errors[:3])
            return 1
        total = 0
        for u in users:
            r = k.ctl('mailbox', 'status', u, 'INBOX')
            for line in r.stdout.decode().splitlines():
                if line.startswith('messages '):
                    total += int(line.split()[1])
        print('smtp %-8s %d msgs x %d B, %d users, concurrency %d: '
              '%.1f s, %.0f messages/s stored, %.2f server CPU-s per 1000 '
              'messages (client %.2f; load %.1f)' % (
                  backend, MESSAGES, len(payload[0]), USERS, CONCURRENCY,
                  elapsed, MESSAGES / elapsed, cpu * 1000.0 / MESSAGES,
                  client * 1000.0 / MESSAGES, os.getloadavg()[0]))
        if total != MESSAGES:
            print('MISMATCH: %d messages stored, %d sent' % (total,
                                                             MESSAGES))
            return 1
    return 0


def main():
    if not kt.have_module('smtp') or not os.path.exists(kt.KURIRD):
        print('skip: smtp module or kurird not built')
        return 0
    wanted = os.environ.get('BENCH_SMTP_BACKENDS')
    rc = 0
    for be in kt.backends():
        if wanted and be not in wanted.split():
            continue
        rc |= run(be)
    return rc


if __name__ == '__main__':
    sys.exit(main())
