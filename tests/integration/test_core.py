"""Core integration: a real kurird with the test echo module.

Implicit TLS with openssl s_client and Python's ssl; STARTTLS with
pipelined plaintext; the line limit; SIGHUP reload; SIGTERM within the
grace time; a killed worker replaced; and the -t/-n/-V/-o contract.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402

NOSTORE = {'storage': '', 'auth': ''}


def echo_server(**kw):
    o = dict(NOSTORE)
    o.update(kw.pop('overrides', {}))
    return kt.Kurird(protocols='echo', overrides=o, **kw)


class Cli(unittest.TestCase):
    def run_kurird(self, *args):
        return subprocess.run([kt.KURIRD] + list(args), capture_output=True,
                              text=True, timeout=30)

    def test_version_lists_modules(self):
        r = self.run_kurird('-V', '-o', 'module_dir=' + kt.MODULE_DIR)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('ABI 1.0', r.stdout)
        self.assertIn('echo', r.stdout)

    def test_check_reports_file_and_line(self):
        d = echo_server()
        try:
            d.write_config('# ok\nworkers = 1\nno_such_key = 1\n')
            r = self.run_kurird(*d.args()[2:], '-t')
            self.assertEqual(r.returncode, 1)
            self.assertIn('kurir.conf:3: unknown key', r.stderr)
            d.write_config('idle_timeout = forever\n')
            r = self.run_kurird(*d.args()[2:], '-t')
            self.assertEqual(r.returncode, 1)
            self.assertIn('kurir.conf:1: idle_timeout: bad value', r.stderr)
            d.write_config('workers = 1\nimap_listen = nonsense\n')
            r = self.run_kurird(*d.args()[2:], '-t')
            self.assertEqual(r.returncode, 1)
            self.assertIn('kurir.conf:2: imap_listen: bad address',
                          r.stderr)
            d.write_config('workers = 1\n')
            r = self.run_kurird(*d.args()[2:], '-o', 'echo_listen=1.2.3.4',
                                '-t')
            self.assertEqual(r.returncode, 1)
            self.assertIn('-o echo_listen: echo_listen: bad address',
                          r.stderr)
            d.write_config('workers = 1\n')
            r = self.run_kurird(*d.args()[2:], '-t')
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            d.cleanup()

    def test_missing_protocol_module_names_file(self):
        r = self.run_kurird('-t', '-o', 'module_dir=' + kt.MODULE_DIR,
                            '-o', 'storage=', '-o', 'auth=',
                            '-o', 'protocols=nosuchproto')
        self.assertEqual(r.returncode, 1)
        self.assertIn('nosuchproto', r.stderr)
        self.assertIn('not found', r.stderr)

    def test_print_effective_config(self):
        r = self.run_kurird('-n', '-o', 'module_dir=' + kt.MODULE_DIR,
                            '-o', 'storage=', '-o', 'auth=',
                            '-o', 'protocols=echo', '-o', 'workers=3')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('\nworkers = 3\n', r.stdout)
        self.assertIn('\necho_listen = 127.0.0.1:2007\n', r.stdout)
        self.assertIn('\nmax_message_size = 50M\n', r.stdout)

    def test_override_unknown_key_is_error(self):
        r = self.run_kurird('-t', '-o', 'module_dir=' + kt.MODULE_DIR,
                            '-o', 'storage=', '-o', 'auth=',
                            '-o', 'protocols=echo', '-o', 'bogus=1')
        self.assertEqual(r.returncode, 1)
        self.assertIn("-o bogus: unknown key 'bogus'", r.stderr)


class Serving(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = echo_server(overrides={'max_line_length': '1k'}).start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()
        cls.k.cleanup()

    def client(self, service='echo'):
        c = kt.LineClient(self.k.connect(service))
        self.assertEqual(c.line(), 'hello ' + service)
        return c

    def test_echo_and_pipelining(self):
        c = self.client()
        c.send('one\r\ntwo\nthree\r\n')
        self.assertEqual(c.line(), 'echo: one')
        self.assertEqual(c.line(), 'echo: two')
        self.assertEqual(c.line(), 'echo: three')
        c.send('INFO\r\n')
        self.assertEqual(c.line(),
                         'tls=0 loopback=1 plain_ok=1 service=echo')
        c.close()

    def test_overlong_line_reported_once(self):
        c = self.client()
        c.send(b'x' * 5000 + b'\r\nafter\r\n')
        self.assertTrue(c.line().startswith('toolong: '))
        self.assertEqual(c.line(), 'echo: after')
        c.close()

    def test_megabyte_line_and_garbage_keep_server_up(self):
        c = self.client()
        c.send(b'\x00\xff' * (512 * 1024) + b'\n')
        self.assertTrue(c.line().startswith('toolong: '))
        c.close()
        self.client().close()

    def test_exact_byte_reads(self):
        c = self.client()
        payload = bytes(range(256)) * 40
        c.send(b'BYTES %d\r\n' % len(payload) + payload + b'NEXT\r\n')
        self.assertEqual(c.line(), 'got %d sum %d' % (len(payload),
                                                      sum(payload)))
        self.assertEqual(c.line(), 'echo: NEXT')
        c.close()

    def test_big_output_with_backpressure(self):
        c = self.client()
        n = 8 * 1024 * 1024
        c.send('BIG %d\r\n' % n)
        got = 0
        c.sock.settimeout(20)
        data = b''
        while got < n:
            chunk = c.sock.recv(1 << 20)
            self.assertTrue(chunk)
            got += len(chunk)
            data = chunk[-64:]
        c.buf = data[-(got - n):] if got > n else b''
        self.assertEqual(c.line(), '')
        self.assertEqual(c.line(), 'BIG done')
        c.close()

    def test_implicit_tls_python(self):
        s = kt.tls_context().wrap_socket(self.k.connect('echos'))
        c = kt.LineClient(s)
        self.assertEqual(c.line(), 'hello echos')
        self.assertIn(s.version(), ('TLSv1.2', 'TLSv1.3'))
        c.send('INFO\r\n')
        self.assertEqual(c.line(),
                         'tls=1 loopback=1 plain_ok=1 service=echos')
        c.close()

    def test_implicit_tls_openssl_s_client(self):
        r = subprocess.run(
            ['openssl', 's_client', '-connect',
             '127.0.0.1:%d' % self.k.port('echos'), '-quiet'],
            input=b'ping\r\nQUIT\r\n', capture_output=True, timeout=30)
        self.assertIn(b'hello echos', r.stdout)
        self.assertIn(b'echo: ping', r.stdout)
        self.assertIn(b'bye', r.stdout)

    def test_starttls_discards_pipelined_plaintext(self):
        c = self.client()
        # The injected command rides in the same write as STARTTLS.
        c.send('STARTTLS\r\nINJECTED\r\n')
        self.assertEqual(c.line(), 'OK begin TLS')
        self.assertEqual(c.buf, b'')
        c.starttls()
        self.assertEqual(c.line(), 'TLS ok')
        c.send('INFO\r\n')
        line = c.line()
        # The next line must answer INFO, not the injected command.
        self.assertEqual(line, 'tls=1 loopback=1 plain_ok=1 service=echo')
        c.send('STARTTLS\r\n')
        self.assertEqual(c.line(), 'OK begin TLS')
        self.assertEqual(c.line(), 'NO TLS')
        c.close()

    def test_pause_resume_keeps_order(self):
        c = self.client()
        c.send('SLEEP 200\r\nafter\r\n')
        self.assertEqual(c.line(), 'slept')
        self.assertEqual(c.line(), 'echo: after')
        c.close()


class TlsPolicy(unittest.TestCase):
    def test_min_protocol_is_enforced(self):
        import ssl
        k = echo_server(overrides={'tls_min_protocol': 'TLSv1.3'}).start()
        try:
            ctx = kt.tls_context()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with self.assertRaises(ssl.SSLError):
                ctx.wrap_socket(k.connect('echos')).recv(10)
            s = kt.tls_context().wrap_socket(k.connect('echos'))
            self.assertEqual(s.version(), 'TLSv1.3')
            s.close()
        finally:
            k.stop()
            k.cleanup()


class Lifecycle(unittest.TestCase):
    def test_sigterm_exits_zero_within_grace(self):
        k = echo_server(overrides={'shutdown_grace': '2s'}).start()
        try:
            c = kt.LineClient(k.connect('echo'))
            self.assertEqual(c.line(), 'hello echo')
            t = time.time()
            rc = k.stop(timeout=15)
            self.assertEqual(rc, 0)
            self.assertLess(time.time() - t, 10)
            self.assertEqual(c.line(), 'shutting down')
        finally:
            k.cleanup()

    def test_sigterm_as_soon_as_listening_exits_zero(self):
        # The listeners exist before the workers do; a SIGTERM in that
        # window must still be a clean stop, not the default action.
        for _ in range(3):
            k = echo_server().start(wait=False)
            try:
                deadline = time.time() + 20
                while time.time() < deadline:
                    try:
                        k.connect('echo').close()
                        break
                    except OSError:
                        time.sleep(0.002)
                self.assertEqual(k.stop(timeout=15), 0, k.log_text())
            finally:
                k.cleanup()

    def test_killed_worker_is_replaced(self):
        k = echo_server(workers=2).start()
        try:
            before = k.wait_workers(2)
            os.kill(before[0], signal.SIGKILL)
            after = k.wait_workers(2, exclude=(before[0],))
            self.assertNotIn(before[0], after)
            for _ in range(4):
                c = kt.LineClient(k.connect('echo'))
                self.assertEqual(c.line(), 'hello echo')
                c.close()
            self.assertIn('killed by signal 9', k.log_text())
        finally:
            k.stop()
            k.cleanup()

    def test_sighup_reload_applies_new_config(self):
        k = echo_server(workers=1)
        k.write_config('max_line_length = 100\n')
        # Keys given with -o would win over the file: leave this one out.
        k.start()
        try:
            old = k.wait_workers(1)
            c = kt.LineClient(k.connect('echo'))
            self.assertEqual(c.line(), 'hello echo')
            c.send(b'y' * 150 + b'\r\n')
            self.assertTrue(c.line().startswith('toolong'))
            k.write_config('max_line_length = 1000\n')
            k.reload()
            k.wait_workers(1, exclude=old)
            # The old session drains; new sessions use the new limit.
            c2 = kt.LineClient(k.connect('echo'))
            self.assertEqual(c2.line(), 'hello echo')
            c2.send(b'y' * 150 + b'\r\n')
            self.assertEqual(c2.line(), 'echo: ' + 'y' * 150)
            c2.close()
            # A broken config keeps the running one.
            k.write_config('max_line_length = huge\n')
            k.reload()
            deadline = time.time() + 10
            while 'reload failed' not in k.log_text() and \
                    time.time() < deadline:
                time.sleep(0.05)
            self.assertIn('reload failed', k.log_text())
            c3 = kt.LineClient(k.connect('echo'))
            self.assertEqual(c3.line(), 'hello echo')
            c3.close()
        finally:
            k.stop()
            k.cleanup()


if __name__ == '__main__':
    unittest.main(verbosity=2)
