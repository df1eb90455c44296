"""etc/kurir.conf stays true to the code: every key kurird knows (core and
every built module) is documented there, and the file passes `kurird -t`.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402

CONF = os.path.join(kt.SRCDIR, 'etc', 'kurir.conf')
# Every protocol-kind module, so each one's keys are checked.
PROTOCOLS = ['smtp', 'pop3', 'imap', 'relay']


def built(kind_names):
    return [n for n in kind_names if kt.have_module(n)]


def effective_keys(storage):
    protos = built(PROTOCOLS)
    args = [kt.KURIRD, '-n', '-o', 'module_dir=' + kt.MODULE_DIR,
            '-o', 'protocols=' + ' '.join(protos),
            '-o', 'storage=' + storage,
            '-o', 'auth=' + ('passwd' if kt.have_module('passwd') else '')]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return {m.group(1) for m in re.finditer(r'^([a-z0-9_]+) = ',
                                            r.stdout, re.M)}


class ConfDoc(unittest.TestCase):
    def documented(self):
        with open(CONF) as f:
            text = f.read()
        return {m.group(1) for m in
                re.finditer(r'^#?([a-z0-9_]+) =', text, re.M)}

    def test_every_key_is_documented(self):
        doc = self.documented()
        for storage in kt.backends() or ['']:
            missing = effective_keys(storage) - doc
            self.assertFalse(missing, 'undocumented in etc/kurir.conf: %s'
                             % ' '.join(sorted(missing)))

    def test_sample_config_checks(self):
        with tempfile.TemporaryDirectory() as d:
            args = [kt.KURIRD, '-t', '-c', CONF,
                    '-o', 'module_dir=' + kt.MODULE_DIR,
                    '-o', 'state_dir=' + d,
                    '-o', 'protocols=' +
                    ' '.join(built(PROTOCOLS))]
            if not kt.backends():
                args += ['-o', 'storage=']
            if not kt.have_module('passwd'):
                args += ['-o', 'auth=']
            r = subprocess.run(args, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == '__main__':
    unittest.main(verbosity=2)
