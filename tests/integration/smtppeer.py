#!/usr/bin/env python3
"""smtppeer -- a small SMTP server on loopback for the relay's tests.

Each recipient's answer is chosen by its local part:
    ok*       250
    temp*     450 4.2.1 (every time)
    perm*     550 5.1.1 (every time)
    flaky*    451 4.3.0 the first time that address is seen, then 250
    slow*     250, but the reply to its DATA comes after slow_delay s
anything else 250.  The peer counts connections and the most mail
transactions (MAIL to the end of DATA or RSET) open at once (max_active).  Accepted messages are appended to DIR/log.jsonl as
{"from", "rcpts", "data", "tls"} (data: latin-1 text, dot-unstuffed).
--sink stores nothing and only counts: one byte per accepted message (and
recipient) is appended to DIR/sink.count, so its size is the count
(benchmarks, another process).

    smtppeer.py --port N --dir DIR [--no-pipelining] [--no-8bitmime]
                [--size N] [--tls CERT KEY] [--sink]
Used as a module too: Peer(port, dir, ...).start() / .stop().
"""
import argparse
import base64
import json
import os
import socket
import socketserver
import ssl
import threading
import time


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def send(self, text):
        self.wfile.write(text.encode() + b'\r\n')
        self.wfile.flush()

    def txn(self, on):
        p = self.server.peer
        with p.lock:
            if on and not self.in_txn:
                p.active += 1
                p.max_active = max(p.max_active, p.active)
            elif not on and self.in_txn:
                p.active -= 1
        self.in_txn = on

    def handle(self):
        self.in_txn = False
        with self.server.peer.lock:
            self.server.peer.socks.append(self.request)
        try:
            self.session()
        finally:
            self.txn(False)

    def session(self):
        p = self.server.peer
        with p.lock:
            p.connections += 1
        self.tls = False
        self.send('220 peer.test ESMTP smtppeer')
        mail, rcpts = None, []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode('latin-1').rstrip('\r\n')
            verb = cmd[:4].upper()
            if verb == 'EHLO':
                ext = ['peer.test']
                if p.pipelining:
                    ext.append('PIPELINING')
                if p.eightbit:
                    ext.append('8BITMIME')
                if p.size:
                    ext.append('SIZE %d' % p.size)
                if p.tls and not self.tls:
                    ext.append('STARTTLS')
                if self.tls:
                    ext.append('AUTH PLAIN')
                ext.append('ENHANCEDSTATUSCODES')
                for i, e in enumerate(ext):
                    self.send('250%s%s' % (' ' if i == len(ext) - 1
                                           else '-', e))
            elif verb == 'HELO':
                self.send('250 peer.test')
            elif verb == 'STAR' and p.tls and not self.tls:
                self.send('220 2.0.0 go ahead')
                try:
                    conn = p.tls.wrap_socket(self.connection,
                                             server_side=True)
                except (ssl.SSLError, OSError):
                    return  # e.g. a client that refused our certificate
                self.connection = self.request = conn
                self.rfile = conn.makefile('rb')
                self.wfile = conn.makefile('wb')
                self.tls = True
            elif verb == 'AUTH' and self.tls:
                try:
                    raw = base64.b64decode(cmd.split()[2])
                    _, user, pw = raw.decode().split('\0')
                except (IndexError, ValueError, UnicodeDecodeError):
                    self.send('501 5.5.2 bad AUTH')
                    continue
                with p.lock:
                    p.auths.append((user, pw))
                self.send('235 2.7.0 authenticated')
            elif verb == 'MAIL':
                mail = cmd[10:].split('>')[0].lstrip('<')
                with p.lock:
                    p.mail_params.append(cmd)
                self.txn(True)
                rcpts = []
                self.send('250 2.1.0 ok')
            elif verb == 'RCPT':
                addr = cmd[8:].split('>')[0].lstrip('<')
                local = addr.split('@')[0].lower()
                with p.lock:
                    seen = p.seen.get(addr, 0)
                    p.seen[addr] = seen + 1
                if local.startswith('temp'):
                    self.send('450 4.2.1 <%s>: mailbox busy' % addr)
                elif local.startswith('perm'):
                    self.send('550 5.1.1 <%s>: no such user here' % addr)
                elif local.startswith('flaky') and seen == 0:
                    self.send('451 4.3.0 <%s>: try again later' % addr)
                else:
                    rcpts.append(addr)
                    self.send('250 2.1.5 ok')
            elif verb == 'DATA':
                if not rcpts:
                    self.send('554 5.5.1 no valid recipients')
                    continue
                self.send('354 go ahead')
                chunks, total = [], 0
                while True:
                    ln = self.rfile.readline(1 << 20)
                    if not ln:
                        return
                    if ln == b'.\r\n':
                        break
                    if ln.startswith(b'.'):
                        ln = ln[1:]
                    total += len(ln)
                    if not p.sink:
                        chunks.append(ln)
                with p.lock:
                    p.messages += 1
                    if p.sink:
                        p.count_file.write(b'.' * len(rcpts))
                        p.count_file.flush()
                    else:
                        rec = {'from': mail, 'rcpts': rcpts,
                               'data': b''.join(chunks).decode('latin-1'),
                               'tls': self.tls}
                        with open(os.path.join(p.dir, 'log.jsonl'),
                                  'a') as f:
                            f.write(json.dumps(rec) + '\n')
                if any(r.lower().startswith('slow') for r in rcpts):
                    time.sleep(p.slow_delay)
                # ended before the reply: the client may start its next
                # transaction (elsewhere) as soon as it reads the 250
                self.txn(False)
                self.send('250 2.0.0 accepted')
                mail, rcpts = None, []
            elif verb == 'RSET':
                self.txn(False)
                mail, rcpts = None, []
                self.send('250 2.0.0 ok')
            elif verb == 'NOOP':
                self.send('250 2.0.0 ok')
            elif verb == 'QUIT':
                self.send('221 2.0.0 bye')
                return
            else:
                self.send('500 5.5.2 what?')


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128  # the relay opens 20 connections at once


class Peer:
    def __init__(self, port, dir=None, pipelining=True, eightbit=True,
                 size=0, tls=None, sink=False):
        self.port, self.dir, self.sink = port, dir, sink
        self.pipelining, self.eightbit, self.size = pipelining, eightbit, size
        self.tls = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.tls = ctx
        self.lock = threading.Lock()
        self.seen, self.messages, self.connections = {}, 0, 0
        self.active = self.max_active = 0
        self.slow_delay = 0.25
        self.socks = []
        self.auths = []  # (user, password) of AUTH PLAIN, TLS only
        self.mail_params = []
        self.server = None

    def start(self):
        if self.sink:
            self.count_file = open(os.path.join(self.dir, 'sink.count'),
                                   'ab', buffering=0)
        self.server = Server(('127.0.0.1', self.port), Handler)
        self.server.peer = self
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
            # down means down: cut the connections the relay keeps
            with self.lock:
                for sk in self.socks:
                    try:
                        sk.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                self.socks = []
        if self.sink:
            self.count_file.close()

    def log(self):
        try:
            with open(os.path.join(self.dir, 'log.jsonl')) as f:
                return [json.loads(ln) for ln in f]
        except FileNotFoundError:
            return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--dir', default='.')
    ap.add_argument('--no-pipelining', action='store_true')
    ap.add_argument('--no-8bitmime', action='store_true')
    ap.add_argument('--size', type=int, default=0)
    ap.add_argument('--tls', nargs=2)
    ap.add_argument('--sink', action='store_true')
    a = ap.parse_args()
    p = Peer(a.port, a.dir, not a.no_pipelining, not a.no_8bitmime,
             a.size, a.tls, a.sink).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        p.stop()


if __name__ == '__main__':
    main()
