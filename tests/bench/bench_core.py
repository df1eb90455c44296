#!/usr/bin/env python3
"""bench_core -- the core's connection layer under load (make bench).

Starts its own kurird (one worker, the test echo module) on free loopback
ports and prints:
  - accept rate, plain and implicit TLS: connections per second that were
    accepted, greeted by the module and closed, from CLIENTS client
    processes, and the server CPU time each connection cost;
  - server RSS per idle connection: the worker's resident memory with
    10,000 idle plaintext connections (and, in a fresh server, 2,000 idle
    TLS connections) over its resident memory before them.
Targets: under 8 KiB per idle plain and under 32 KiB per idle TLS
connection.  Environment: BENCH_PLAIN, BENCH_TLS (idle counts),
BENCH_SECONDS (accept-rate run time).
"""
import multiprocessing
import os
import resource
import socket
import ssl
import sys
import time

SRCDIR = os.environ.get('KURIR_SRCDIR',
                        os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(SRCDIR, 'tests', 'integration'))
import kurirtest as kt  # noqa: E402

N_PLAIN = int(os.environ.get('BENCH_PLAIN', '10000'))
N_TLS = int(os.environ.get('BENCH_TLS', '2000'))
SECONDS = float(os.environ.get('BENCH_SECONDS', '3'))
CLIENTS = 2


def raise_nofile(need):
    """Soft RLIMIT_NOFILE up to the hard limit (kurird inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft < need:
        print('note: RLIMIT_NOFILE is %d, %d wanted: counts reduced' %
              (soft, need))
    return soft


def server(extra=None):
    ov = {
        'log_level': 'warning',
        'idle_timeout': '1h',
        'tls_handshake_timeout': '1m',
        'max_connections': '30000',
    }
    ov.update(extra or {})
    return kt.Kurird(protocols='echo', workers=1, overrides=ov)


def worker_pid(k):
    return k.wait_workers(1)[0]


def rss_kib(pid):
    """(VmRSS, RssAnon) of pid in KiB."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, val = line.partition(':')
            if key in ('VmRSS', 'RssAnon'):
                out[key] = int(val.split()[0])
    return out['VmRSS'], out['RssAnon']


def greeted(sock):
    buf = b''
    while b'\n' not in buf:
        chunk = sock.recv(256)
        if not chunk:
            raise EOFError('closed before the greeting')
        buf += chunk
    return buf


# ---- accept rate ------------------------------------------------------

def _accept_loop(port, use_tls, seconds, q):
    ctx = kt.tls_context() if use_tls else None
    n = 0
    end = time.monotonic() + seconds
    # Bounded, so that TIME_WAIT cannot use up the ephemeral ports.
    while time.monotonic() < end and n < 20000:
        s = socket.create_connection(('127.0.0.1', port), 10)
        if ctx is not None:
            s = ctx.wrap_socket(s)
        greeted(s)
        s.close()
        n += 1
    q.put(n)


def accept_rate(k, service, use_tls):
    port = k.port(service)
    q = multiprocessing.Queue()
    cpu0 = k.cpu_seconds()
    t0 = time.monotonic()
    procs = [multiprocessing.Process(target=_accept_loop,
                                     args=(port, use_tls, SECONDS, q))
             for _ in range(CLIENTS)]
    for p in procs:
        p.start()
    total = sum(q.get() for _ in procs)
    for p in procs:
        p.join()
    wall = time.monotonic() - t0
    cpu = k.cpu_seconds() - cpu0
    return total / wall, cpu / max(total, 1) * 1e6, total


# ---- idle memory ------------------------------------------------------

def idle_rss(k, service, n, use_tls):
    pid = worker_pid(k)
    ctx = kt.tls_context() if use_tls else None
    # Warm up: the first connections allocate what every one shares.
    for _ in range(50):
        s = socket.create_connection(('127.0.0.1', k.port(service)), 10)
        if ctx is not None:
            s = ctx.wrap_socket(s)
        greeted(s)
        s.close()
    time.sleep(0.5)
    before, before_anon = rss_kib(pid)
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.create_connection(('127.0.0.1', k.port(service)), 30)
        if ctx is not None:
            s = ctx.wrap_socket(s)
        greeted(s)
        socks.append(s)
    opened = time.monotonic() - t0
    time.sleep(1.0)
    after, after_anon = rss_kib(pid)
    # Still alive and answering?
    socks[-1].sendall(b'ping\r\n')
    alive = greeted(socks[-1]).startswith(b'echo: ping')
    for s in socks:
        s.close()
    return {
        'n': n,
        'before': before,
        'after': after,
        'per_conn': (after - before) * 1024.0 / n,
        'per_conn_anon': (after_anon - before_anon) * 1024.0 / n,
        'open_rate': n / opened,
        'alive': alive,
    }


def main():
    kt.require_modules('lmdb', 'passwd')
    if not os.path.exists(os.path.join(kt.BUILDDIR, 'tests', 'modules',
                                       'echo.la')):
        print('skip: the test echo module is not built (make check)')
        return kt.SKIP
    limit = raise_nofile(N_PLAIN + 200)
    n_plain = min(N_PLAIN, limit - 200)
    n_tls = min(N_TLS, limit - 200)

    with server() as k:
        rate, cpu_us, total = accept_rate(k, 'echo', False)
        print('accept rate, plain: %.0f conn/s (%d connections, %d '
              'clients; server CPU %.0f us/conn)' %
              (rate, total, CLIENTS, cpu_us))
        rate, cpu_us, total = accept_rate(k, 'echos', True)
        print('accept rate, TLS:   %.0f conn/s (%d connections, %d '
              'clients; server CPU %.0f us/conn)' %
              (rate, total, CLIENTS, cpu_us))

    ok = True
    with server() as k:
        r = idle_rss(k, 'echo', n_plain, False)
        print('idle plain: %d connections, worker RSS %d -> %d KiB: '
              '%.0f bytes/conn (anon %.0f), target < 8192%s' %
              (r['n'], r['before'], r['after'], r['per_conn'],
               r['per_conn_anon'], '' if r['alive'] else ' NOT ALIVE'))
        ok = ok and r['per_conn'] < 8192 and r['alive']

    with server() as k:
        r = idle_rss(k, 'echos', n_tls, True)
        print('idle TLS:   %d connections, worker RSS %d -> %d KiB: '
              '%.0f bytes/conn (anon %.0f), target < 32768%s' %
              (r['n'], r['before'], r['after'], r['per_conn'],
               r['per_conn_anon'], '' if r['alive'] else ' NOT ALIVE'))
        ok = ok and r['per_conn'] < 32768 and r['alive']

    print('targets: %s' % ('met' if ok else 'NOT MET'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
