#!/usr/bin/env python3
"""Storage benchmark (make bench): append, delivery, read and flag-update
throughput of 4 KiB messages per built backend, one and two processes,
durable commits on; messages/s and fsync/fdatasync/msync calls per
message (counted by an LD_PRELOAD shim, tests/bench/.libs/fsynccount.so).
Grouped commits: deliveries from 20 threads at once to one user."""
import os
import shutil
import subprocess
import sys
import tempfile

B = os.environ.get('KURIR_BUILDDIR', '.')
PROG = os.path.join(B, 'tests', 'bench', 'bench_storage')
SHIM = os.path.join(B, 'tests', 'bench', '.libs', 'fsynccount.so')
N = int(os.environ.get('BENCH_STORAGE_N', '300'))


def backends():
    mods = os.path.join(B, 'modules')
    return [b for b in ('lmdb', 'maildir')
            if os.path.exists(os.path.join(mods, b + '.la'))]


def run(backend, state, mode, procs=1, threads=1, n=N, user='bench',
        base=0):
    cnt = os.path.join(state, 'fsyncs.txt')
    if os.path.exists(cnt):
        os.unlink(cnt)
    env = dict(os.environ, KURIR_STORAGE=backend,
               KURIR_MODULE_DIR=os.path.join(B, 'modules'),
               KURIR_STATE_DIR=state, KURIR_FSYNC_COUNT_FILE=cnt,
               LD_PRELOAD=SHIM)
    # Every process works on the same user: concurrent writers share it.
    # read/flags: process k works on uids (base+k)*n+1 .. (base+k+1)*n.
    ps = [subprocess.Popen([PROG, '-m', mode, '-t', str(threads), '-n',
                            str(n), '-u', user + '@bench.test', '-o',
                            str(base + k)],
                           env=env, stdout=subprocess.PIPE, text=True)
          for k in range(procs)]
    secs = 0.0
    for p in ps:
        out, _ = p.communicate(timeout=600)
        if p.returncode != 0:
            sys.exit('bench_storage failed: %s %s' % (backend, mode))
        f = dict(kv.split('=') for kv in out.split())
        secs = max(secs, float(f['secs']))
    fs = 0
    with open(cnt) as fh:
        fs = sum(int(line.split()[1]) for line in fh)
    total = n * procs
    return total / secs, fs / total


def main():
    if not os.path.exists(SHIM):
        sys.exit('missing %s: run make bench' % SHIM)
    print('%-8s %-34s %10s %12s' % ('backend', 'operation (4 KiB, durable)',
                                     'msgs/s', 'fsyncs/msg'))
    for b in backends():
        state = tempfile.mkdtemp(prefix='kurir-bench-')
        try:
            rows = [
                ('append, 1 process', run(b, state, 'append')),
                ('append, 2 processes', run(b, state, 'append', procs=2)),
                ('deliver, 1 thread', run(b, state, 'deliver')),
                ('deliver, 20 threads (grouped)',
                 run(b, state, 'deliver', threads=20, n=10 * N)),
                ('deliver, 2 procs x 20 threads',
                 run(b, state, 'deliver', procs=2, threads=20, n=5 * N)),
                ('read, 1 process', run(b, state, 'read', n=4 * N)),
                ('read, 2 processes', run(b, state, 'read', procs=2,
                                          n=4 * N)),
                ('flags, 1 process', run(b, state, 'flags')),
                ('flags, 2 processes', run(b, state, 'flags', procs=2,
                                           base=1)),
            ]
            for name, (rate, fpm) in rows:
                print('%-8s %-34s %10.0f %12.3f' % (b, name, rate, fpm))
        finally:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == '__main__':
    main()
