#!/usr/bin/env python3
"""Outbound relay benchmark (make bench).

Phase 1 fills the queue: kurird without the relay module takes N
messages of about 4 KiB over SMTP (an alias forwarding to a remote
domain, so each is queued, not stored).  Phase 2 measures delivery only:
kurird restarts with the relay module (relay_concurrency 20, and
relay_destination_concurrency 20 since all goes to one destination) and
delivers the whole queue through relay_routes to a local sink
(tests/integration/smtppeer.py --sink in its own process; Postfix's
smtp-sink is not used because it cannot tell us what it took).  Prints messages/s from the start of kurird to
the empty queue, and the server's CPU seconds (utime+stime of master and
workers, relay threads included) per 1,000 messages; then checks that the
sink took every message exactly once.

Environment: BENCH_RELAY_MESSAGES (default 5000), BENCH_RELAY_CONCURRENCY
(default 20).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.join(os.environ.get('KURIR_SRCDIR', '.'), 'tests',
                    'integration')
sys.path.insert(0, HERE)
import kurirtest as kt  # noqa: E402

MESSAGES = int(os.environ.get('BENCH_RELAY_MESSAGES', '5000'))
CONCURRENCY = int(os.environ.get('BENCH_RELAY_CONCURRENCY', '20'))
FEEDERS = 8


def body(i):
    head = ('From: bench%d@localhost\r\nTo: sink@bench.example\r\n'
            'Subject: relay benchmark %d\r\nMessage-ID: <%d@bench>\r\n'
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

    def send(self, i, data):
        self.sock.sendall(b'MAIL FROM:<bench%d@remote.example>\r\n'
                          b'RCPT TO:<fwd@localhost>\r\nDATA\r\n' % i)
        self.expect(250)
        self.expect(250)
        self.expect(354)
        self.sock.sendall(data + b'.\r\n')
        self.expect(250)

    def close(self):
        self.sock.sendall(b'QUIT\r\n')
        self.sock.close()


def fill(k):
    payload = [body(i) for i in range(64)]
    counter = iter(range(MESSAGES))
    lock = threading.Lock()
    errors = []

    def feeder():
        try:
            s = Sender(k.port('smtp'))
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                s.send(i, payload[i % 64])
            s.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=feeder) for _ in range(FEEDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, len(payload[0])


def proc_cpu(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            'SC_CLK_TCK')
    except OSError:
        return 0.0


def queued(k):
    d = os.path.join(k.state_dir, 'queue')
    try:
        return sum(1 for n in os.listdir(d)
                   if n.endswith('.env') and not n.startswith('tmp.'))
    except OSError:
        out = k.ctl('queue', 'list').stdout.decode().splitlines()
        return sum(1 for ln in out if ln and ln != 'queue is empty')


def main():
    if not (os.path.exists(kt.KURIRD) and kt.have_module('smtp') and
            kt.have_module('relay') and kt.have_module('lmdb')):
        print('skip: kurird, smtp, relay or lmdb not built')
        return 0
    tmp = tempfile.mkdtemp(prefix='bench-relay-')
    port = kt.free_port()
    sink = subprocess.Popen([sys.executable,
                             os.path.join(HERE, 'smtppeer.py'), '--port',
                             str(port), '--dir', tmp, '--sink'])
    sink_name = 'smtppeer.py --sink'
    k = kt.Kurird(storage='lmdb', protocols='smtp',
                  overrides={'log_level': os.environ.get('BENCH_RELAY_LOG', 'notice'),
                             'relay_routes':
                             'bench.example=127.0.0.1:%d' % port},
                  config_text='smtp_connections_per_ip = 0\n')
    rc = 0
    try:
        k.start()
        k.ctl('alias', 'add', 'fwd@localhost', 'sink@bench.example')
        t0 = time.time()
        errors, size = fill(k)
        t_fill = time.time() - t0
        if errors:
            print('errors: %s' % errors[:3])
            return 1
        k.stop()
        n = queued(k)
        if n != MESSAGES:
            print('MISMATCH: %d queued, %d sent' % (n, MESSAGES))
            return 1
        # Phase 2: the relay delivers the full queue.
        k.opts['protocols'] = 'smtp relay'
        k.write_config('smtp_connections_per_ip = 0\n'
                       'relay_concurrency = %d\n'
                       'relay_destination_concurrency = %d\n'
                       'relay_connect_timeout = 5s\n'
                       'relay_timeout = 30s\n' % (CONCURRENCY,
                                                  CONCURRENCY))
        sink_cpu0 = proc_cpu(sink.pid)
        t0 = time.time()
        k.start(wait=False)
        cpu = 0.0
        deadline = t0 + 600
        while time.time() < deadline:
            cpu = max(cpu, k.cpu_seconds())
            if queued(k) == 0:
                break
            time.sleep(0.05)
        elapsed = time.time() - t0
        cpu = max(cpu, k.cpu_seconds())
        sink_cpu = proc_cpu(sink.pid) - sink_cpu0
        try:
            got = os.path.getsize(os.path.join(tmp, 'sink.count'))
        except OSError:
            got = 0
        print('relay lmdb queue filled: %d msgs x %d B in %.1f s '
              '(%.0f/s inbound, %d SMTP clients)' % (
                  MESSAGES, size, t_fill, MESSAGES / t_fill, FEEDERS))
        print('relay %d msgs x %d B to %s, concurrency %d: %.1f s, '
              '%.0f messages/s delivered, %.2f server CPU-s per 1000 '
              'messages' % (MESSAGES, size, sink_name, CONCURRENCY,
                            elapsed, MESSAGES / elapsed,
                            cpu * 1000.0 / MESSAGES))
        print('relay (the sink itself used %.1f CPU-s, %.0f%% of the '
              'elapsed time)' % (sink_cpu, 100.0 * sink_cpu / elapsed))
        if got != MESSAGES:
            print('MISMATCH: the sink took %d messages, %d queued' % (
                got, MESSAGES))
            rc = 1
    finally:
        if os.environ.get('BENCH_RELAY_KEEPLOG'):
            shutil.copy(k.log_path, os.environ['BENCH_RELAY_KEEPLOG'])
        k.cleanup()
        sink.terminate()
        sink.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main())
