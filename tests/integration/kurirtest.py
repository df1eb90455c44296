"""kurirtest -- start a real kurird for a test and talk to it.

Every test starts its own kurird on free loopback ports with a temporary
state_dir, and stops it; nothing depends on a server left running.

    import kurirtest as kt
    with kt.Kurird(storage='lmdb', protocols='smtp imap') as k:
        k.port('imap'); k.add_user('alice@localhost', 'secret')
        k.reload(); k.stop(); k.kill9(); k.start()
"""
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

BUILDDIR = os.environ.get('KURIR_BUILDDIR', os.getcwd())
SRCDIR = os.environ.get('KURIR_SRCDIR', BUILDDIR)
KURIRD = os.path.join(BUILDDIR, 'core', 'kurird')
KURIRCTL = os.path.join(BUILDDIR, 'core', 'kurirctl')
MODULE_DIR = ':'.join([os.path.join(BUILDDIR, 'modules'),
                       os.path.join(BUILDDIR, 'tests', 'modules')])

# The services each protocol module serves.
SERVICES = {
    'smtp': ['smtp', 'submission', 'submissions'],
    'pop3': ['pop3', 'pop3s'],
    'imap': ['imap', 'imaps'],
    'echo': ['echo', 'echos'],
}

SKIP = 77


def have_module(name):
    return os.path.exists(os.path.join(BUILDDIR, 'modules', name + '.la'))


def backends():
    """Storage backends this build made."""
    return [b for b in ('lmdb', 'maildir') if have_module(b)]


def require_modules(*names):
    """Exit with automake's skip status unless every module was built."""
    missing = [n for n in names if not have_module(n)]
    if missing:
        print('skip: modules not built: ' + ' '.join(missing))
        sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def worker_user():
    """As root, workers need an unprivileged user that exists here."""
    if os.geteuid() != 0:
        return None
    for name in ('kurir', 'nobody'):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    return None


def tls_context():
    """A client context for the test server's self-signed certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Kurird:
    def __init__(self, storage='lmdb', auth='passwd', protocols='echo',
                 overrides=None, workers=2, config_text=None):
        self.protocols = protocols.split()
        self.state_dir = tempfile.mkdtemp(prefix='kurir-test-')
        os.chmod(self.state_dir, 0o755)
        self.ports = {}
        for proto in self.protocols:
            for svc in SERVICES.get(proto, [proto]):
                self.ports[svc] = free_port()
        self.opts = {
            'state_dir': self.state_dir,
            'module_dir': MODULE_DIR,
            'storage': storage,
            'auth': auth,
            'protocols': ' '.join(self.protocols),
            'workers': str(workers),
            'log_level': 'debug',
            'shutdown_grace': '5s',
        }
        user = worker_user()
        if user:
            self.opts['user'] = user
        for svc, port in self.ports.items():
            self.opts[svc + '_listen'] = '127.0.0.1:%d' % port
        self.opts.update(overrides or {})
        self.config_path = None
        if config_text is not None:
            self.write_config(config_text)
        self.proc = None
        self.log_path = os.path.join(self.state_dir, 'kurird.log')
        self.log = None

    # ---- life cycle -------------------------------------------------
    def args(self):
        a = [KURIRD, '-F']
        if self.config_path:
            a += ['-c', self.config_path]
        for k, v in self.opts.items():
            a += ['-o', '%s=%s' % (k, v)]
        return a

    def write_config(self, text):
        self.config_path = os.path.join(self.state_dir, 'kurir.conf')
        with open(self.config_path, 'w') as f:
            f.write(text)

    def start(self, wait=True):
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(self.args(), stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        # kill9() waits for this group to empty: a surviving worker
        # would still hold the listeners the next start() must bind.
        self._pgid = self.proc.pid
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        pending = set(self.ports.values())
        while pending and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('kurird exited %s:\n%s' % (
                    self.proc.returncode, self.log_text()[-3000:]))
            for p in list(pending):
                try:
                    socket.create_connection(('127.0.0.1', p), 0.5).close()
                    pending.discard(p)
                except OSError:
                    pass
            if pending:
                time.sleep(0.05)
        if pending:
            raise RuntimeError('kurird not listening on %s:\n%s' % (
                sorted(pending), self.log_text()[-3000:]))

    def stop(self, timeout=30):
        """SIGTERM; returns kurird's exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        self._reap_group()
        return rc

    def kill9(self):
        """kill -9 of the whole server (master and workers)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        self.log.close()
        self._reap_group()

    def _reap_group(self):
        # Workers die with the master (PDEATHSIG); wait until they have.
        deadline = time.time() + 10
        while time.time() < deadline and self._group_alive():
            time.sleep(0.05)

    def _group_alive(self):
        return bool(self.pids_in_group())

    def pids_in_group(self):
        pgid = getattr(self, '_pgid', None)
        if self.proc is not None:
            pgid = self._pgid = self.proc.pid
        if pgid is None:
            return []
        pids = []
        for d in os.listdir('/proc'):
            if not d.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % d) as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != 'Z':
                pids.append(int(d))
        return pids

    def worker_pids(self):
        master = self.proc.pid
        out = []
        for d in os.listdir('/proc'):
            if not d.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % d) as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master and fields[0] != 'Z':
                out.append(int(d))
        return sorted(out)

    def wait_workers(self, n, timeout=20, exclude=()):
        deadline = time.time() + timeout
        while time.time() < deadline:
            w = [p for p in self.worker_pids() if p not in exclude]
            if len(w) >= n:
                return w
            time.sleep(0.05)
        raise RuntimeError('expected %d workers, have %s' % (
            n, self.worker_pids()))

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def cpu_seconds(self):
        """utime+stime of the master and every worker alive now."""
        tck = os.sysconf('SC_CLK_TCK')
        total = 0
        for pid in self.pids_in_group():
            try:
                with open('/proc/%d/stat' % pid) as f:
                    fields = f.read().rsplit(')', 1)[1].split()
                total += int(fields[11]) + int(fields[12]) + \
                    int(fields[13]) + int(fields[14])
            except OSError:
                pass
        return total / tck

    # ---- helpers ----------------------------------------------------
    def port(self, service):
        return self.ports[service]

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def ctl(self, *args, input=None, check=True):
        a = [KURIRCTL]
        for k, v in self.opts.items():
            if k.endswith('_listen') or k == 'protocols':
                continue
            a += ['-o', '%s=%s' % (k, v)]
        a += list(args)
        r = subprocess.run(a, input=input, capture_output=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError('kurirctl %s failed (%d): %s' % (
                ' '.join(args), r.returncode, r.stderr.decode()))
        return r

    def add_user(self, address, password):
        return self.ctl('user', 'add', address,
                        input=(password + '\n').encode())

    def connect(self, service, timeout=10):
        return socket.create_connection(('127.0.0.1', self.port(service)),
                                        timeout)

    def cleanup(self):
        if self.proc is not None:
            self.kill9()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc is not None:
            self.stop()
        self.cleanup()
        return False


class LineClient:
    """A tiny line-oriented client over a socket (plain or TLS)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self, timeout=10):
        self.sock.settimeout(timeout)
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('connection closed; buffered %r' % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return line.rstrip(b'\r').decode('utf-8', 'replace')

    def starttls(self, ctx=None):
        """Wrap the socket; anything still buffered would be a bug."""
        ctx = ctx or tls_context()
        self.sock = ctx.wrap_socket(self.sock)
        return self

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
