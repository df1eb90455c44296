"""authclient -- SASL logins over SMTP (submission), IMAP or POP3 for the
auth tests and benchmark: PLAIN, LOGIN and SCRAM-SHA-256 (RFC 5802/7677)
with or without an initial response, plus the protocols' plaintext
logins (IMAP LOGIN, POP3 USER/PASS).  Each login returns one of
'ok', 'fail', 'tempfail', 'denied' (plaintext refused) or 'error'."""
import base64
import hashlib
import hmac
import os
import sys

import kurirtest as kt

SERVICE = {'smtp': 'submission', 'imap': 'imap', 'pop3': 'pop3'}


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


class ScramClient:
    """The client side of SCRAM-SHA-256."""

    def __init__(self, user, password):
        self.user = user.replace('=', '=3D').replace(',', '=2C')
        self.password = password.encode()
        self.cnonce = b64(os.urandom(18))
        self.first_bare = 'n=%s,r=%s' % (self.user, self.cnonce)
        self.server_sig = None

    def first(self):
        return 'n,,' + self.first_bare

    def final(self, server_first):
        attrs = dict(a.split('=', 1) for a in server_first.split(','))
        if not attrs['r'].startswith(self.cnonce):
            raise ValueError('server nonce does not extend ours')
        salted = hashlib.pbkdf2_hmac('sha256', self.password,
                                     base64.b64decode(attrs['s']),
                                     int(attrs['i']))
        ck = hmac.new(salted, b'Client Key', 'sha256').digest()
        sk = hashlib.sha256(ck).digest()
        wo_proof = 'c=biws,r=' + attrs['r']
        auth = ','.join([self.first_bare, server_first, wo_proof]).encode()
        sig = hmac.new(sk, auth, 'sha256').digest()
        proof = bytes(a ^ b for a, b in zip(ck, sig))
        svk = hmac.new(salted, b'Server Key', 'sha256').digest()
        self.server_sig = b64(hmac.new(svk, auth, 'sha256').digest())
        return wo_proof + ',p=' + b64(proof)


class Session:
    """One connection speaking proto, greeted and ready for a login."""

    def __init__(self, k, proto, timeout=30):
        self.proto = proto
        self.c = kt.LineClient(k.connect(SERVICE[proto], timeout))
        self.tag = 0
        self.timeout = timeout
        self.c.line(timeout)            # greeting
        self.caps = self.capabilities()

    # ---- low level ---------------------------------------------------
    def _tag(self):
        self.tag += 1
        return 'a%d' % self.tag

    def cmd(self, line):
        """Send a command; return its final reply line."""
        if self.proto == 'imap':
            t = self._tag()
            self.c.send('%s %s\r\n' % (t, line))
            return self._imap_final(t)
        self.c.send(line + '\r\n')
        return self._reply()

    def _imap_final(self, t):
        while True:
            ln = self.c.line(self.timeout)
            if ln.startswith(t + ' '):
                return ln[len(t) + 1:]
            if ln.startswith('+'):
                return ln

    def _reply(self):
        if self.proto == 'smtp':
            while True:
                ln = self.c.line(self.timeout)
                if len(ln) < 4 or ln[3] != '-':
                    return ln
        return self.c.line(self.timeout)

    def capabilities(self):
        if self.proto == 'smtp':
            self.c.send('EHLO client.test\r\n')
            caps = []
            while True:
                ln = self.c.line(self.timeout)
                caps.append(ln[4:])
                if ln[3] != '-':
                    return caps
        if self.proto == 'imap':
            t = self._tag()
            self.c.send('%s CAPABILITY\r\n' % t)
            caps = []
            while True:
                ln = self.c.line(self.timeout)
                if ln.startswith('* CAPABILITY'):
                    caps = ln.split()[2:]
                if ln.startswith(t + ' '):
                    return caps
        self.c.send('CAPA\r\n')
        if not self.c.line(self.timeout).startswith('+OK'):
            return []
        caps = []
        while True:
            ln = self.c.line(self.timeout)
            if ln == '.':
                return caps
            caps.append(ln)

    def mechs(self):
        """SASL mechanisms advertised."""
        out = set()
        for c in self.caps:
            u = c.upper()
            if self.proto == 'imap' and u.startswith('AUTH='):
                out.add(u[5:])
            elif self.proto == 'smtp' and u.startswith('AUTH '):
                out.update(u.split()[1:])
            elif self.proto == 'pop3' and u.startswith('SASL'):
                out.update(u.split()[1:])
        return out

    def starttls(self):
        verb = {'smtp': 'STARTTLS', 'imap': 'STARTTLS', 'pop3': 'STLS'}
        r = self.cmd(verb[self.proto])
        if not (r.startswith('220') or r.startswith('OK') or
                r.startswith('+OK')):
            raise RuntimeError('STARTTLS refused: ' + r)
        self.c.starttls()
        self.caps = self.capabilities()

    # ---- results ---------------------------------------------------------
    def _is_cont(self, r):
        return r.startswith('334 ') or r.startswith('+ ') or r == '+'

    def _cont_data(self, r):
        return r[4:] if self.proto == 'smtp' else r[2:]

    def _classify(self, r):
        p = self.proto
        if (p == 'smtp' and r.startswith('235')) or \
           (p == 'imap' and r.startswith('OK')) or \
           (p == 'pop3' and r.startswith('+OK')):
            return 'ok'
        if p == 'smtp':
            if r.startswith('538') or r.startswith('530'):
                return 'denied'
            if r.startswith('535'):
                return 'fail'
            if r.startswith('454') or r.startswith('4'):
                return 'tempfail'
            return 'error'
        u = r.upper()
        if p == 'imap':
            if 'PRIVACYREQUIRED' in u or 'LOGINDISABLED' in u or \
               'ENCRYPTION' in u or 'TLS' in u:
                return 'denied'
            if 'UNAVAILABLE' in u or 'TRY AGAIN' in u or \
               'TEMPORAR' in u:
                return 'tempfail'
            if 'AUTHENTICATIONFAILED' in u or u.startswith('NO'):
                return 'fail'
            return 'error'
        if '[SYS/TEMP]' in u or 'TEMPORAR' in u or 'TRY AGAIN' in u:
            return 'tempfail'
        if 'TLS' in u or 'ENCRYPT' in u or 'PLAINTEXT' in u or \
           'STLS' in u:
            return 'denied'
        if u.startswith('-ERR'):
            return 'fail'
        return 'error'

    def _start(self, mech, ir):
        verb = 'AUTHENTICATE' if self.proto == 'imap' else 'AUTH'
        line = '%s %s' % (verb, mech)
        if ir is not None:
            line += ' ' + (b64(ir) if ir != '' else '=')
        if self.proto == 'imap':
            t = self._tag()
            self.c.send('%s %s\r\n' % (t, line))
            self._cur = t
            return self._imap_final(t)
        self.c.send(line + '\r\n')
        return self._reply()

    def _answer(self, data):
        self.c.send((b64(data) if data else '') + '\r\n')
        if self.proto == 'imap':
            return self._imap_final(self._cur)
        return self._reply()

    # ---- logins ------------------------------------------------------------
    def plain(self, user, password, ir=True):
        msg = '\0%s\0%s' % (user, password)
        r = self._start('PLAIN', msg if ir else None)
        if not ir and self._is_cont(r):
            r = self._answer(msg)
        return self._classify(r)

    def login_mech(self, user, password):
        r = self._start('LOGIN', None)
        for data in (user, password):
            if not self._is_cont(r):
                break
            r = self._answer(data)
        return self._classify(r)

    def scram(self, user, password, ir=True):
        cl = ScramClient(user, password)
        r = self._start('SCRAM-SHA-256', cl.first() if ir else None)
        if not ir and self._is_cont(r):
            r = self._answer(cl.first())
        if not self._is_cont(r):
            return self._classify(r)
        server_first = base64.b64decode(self._cont_data(r)).decode()
        r = self._answer(cl.final(server_first))
        if self._is_cont(r):
            server_final = base64.b64decode(self._cont_data(r)).decode()
            if server_final != 'v=' + cl.server_sig:
                return 'error'
            r = self._answer('')
        return self._classify(r)

    def plaintext_login(self, user, password):
        """IMAP LOGIN or POP3 USER/PASS (SMTP has none: AUTH PLAIN)."""
        if self.proto == 'imap':
            return self._classify(self.cmd('LOGIN "%s" "%s"' % (
                user, password)))
        if self.proto == 'pop3':
            r = self.cmd('USER ' + user)
            if not r.startswith('+OK'):
                return self._classify(r)
            return self._classify(self.cmd('PASS ' + password))
        return self.plain(user, password)

    def noop(self):
        return self.cmd('NOOP')

    def close(self):
        try:
            self.c.send('QUIT\r\n' if self.proto != 'imap' else
                        'z LOGOUT\r\n')
        except OSError:
            pass
        self.c.close()


def built_protocols():
    return [p for p in ('smtp', 'imap', 'pop3') if kt.have_module(p)]


def protocols_or_skip():
    """The protocols to log in over, and the storage backend to use; exits
    with the skip status when kurird, the passwd module, a protocol
    module or a backend is missing."""
    protos = built_protocols()
    if not protos or not kt.have_module('passwd') or not os.path.exists(
            kt.KURIRD):
        print('skip: needs kurird, the passwd module and a protocol module')
        sys.exit(kt.SKIP)
    if not kt.backends():
        print('skip: no storage backend built')
        sys.exit(kt.SKIP)
    return protos, kt.backends()[0]
