#!/usr/bin/env python3
"""Real IMAP clients, run as users run them, against kurird's IMAP.

mbsync (isync) syncs a mailbox tree both ways with a local Maildir over
imaps: the first run downloads every message byte for byte (CR LF as
LF), then a local flag change, a local deletion and a local new message
go up, and a server-side flag change and expunge come down.  curl lists
mailboxes and fetches a message over imap:// (plain on loopback and
STARTTLS with --ssl-reqd) and imaps://, searches, and uploads one.
Each client is skipped (77 if every one is absent) when its binary is
missing.  Runs on the first built storage backend and, for mbsync, on
every backend (the Maildir backend's folder naming is the interesting
case).
"""
import imaplib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kurirtest as kt  # noqa: E402

PASSWORD = 'secret pw'
USER = 'alice@localhost'
MBSYNC = shutil.which('mbsync')
CURL = shutil.which('curl')


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def message(i, folder='INBOX'):
    return ('From: sender%d@example.org\r\nTo: %s\r\n'
            'Subject: %s message %d\r\nMessage-ID: <%s.%d@test>\r\n\r\n'
            'line one of %d\r\nline two\r\n' % (
                i, USER, folder, i, folder, i, i)).encode()


def imap(k):
    m = imaplib.IMAP4('127.0.0.1', k.port('imap'))
    m.login(USER, PASSWORD)
    return m


def server_state(k, box):
    """{Message-ID: (uid, flags)} of a mailbox, via imaplib."""
    m = imap(k)
    typ, _ = m.select(box)
    check(typ == 'OK', 'select %s' % box)
    out = {}
    typ, data = m.uid('FETCH', '1:*',
                      '(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])')
    for d in data:
        if not isinstance(d, tuple):
            continue
        uid = int(re.search(rb'UID (\d+)', d[0]).group(1))
        flags = re.search(rb'FLAGS \(([^)]*)\)', d[0]).group(1).decode()
        mid = re.search(rb'<([^>]*)>', d[1]).group(1).decode()
        out[mid] = (uid, set(flags.split()))
    m.logout()
    return out


def maildir_files(d):
    """{Message-ID: (path, info flags)} of a local Maildir folder."""
    out = {}
    for sub in ('new', 'cur'):
        p = os.path.join(d, sub)
        if not os.path.isdir(p):
            continue
        for n in os.listdir(p):
            path = os.path.join(p, n)
            with open(path, 'rb') as f:
                data = f.read()
            mo = re.search(rb'Message-ID: <([^>]*)>', data)
            check(mo is not None, 'no Message-ID in %s' % path)
            info = n.split(':2,', 1)[1] if ':2,' in n else ''
            out[mo.group(1).decode()] = (path, info)
    return out


def strip_tuid(data):
    """mbsync marks messages it transfers with its own X-TUID header."""
    return re.sub(rb'X-TUID: [^\r\n]*\r?\n', b'', data, count=1)


def run_mbsync(rc, home):
    env = dict(os.environ, HOME=home)
    r = subprocess.run([MBSYNC, '-c', rc, '-a'], capture_output=True,
                       timeout=60, env=env)
    if r.returncode != 0:
        raise AssertionError('mbsync failed (%d):\n%s\n%s' % (
            r.returncode, r.stdout.decode(), r.stderr.decode()))
    return r


def test_mbsync(k, tmp):
    home = os.path.join(tmp, 'mbsync')
    local = os.path.join(home, 'Mail')
    os.makedirs(local)
    m = imap(k)
    sent = {}
    for i in range(1, 5):
        data = message(i)
        m.append('INBOX', r'(\Seen)' if i == 4 else None, None, data)
        sent['INBOX.%d' % i] = data
    check(m.create('Work/Reports')[0] == 'OK', 'create Work/Reports')
    data = message(9, 'Reports')
    m.append('Work/Reports', None, None, data)
    sent['Reports.9'] = data
    m.logout()
    rc = os.path.join(home, 'mbsyncrc')
    with open(rc, 'w') as f:
        f.write('IMAPAccount kurir\nHost localhost\nPort %d\n'
                'User %s\nPass "%s"\nSSLType IMAPS\n'
                'CertificateFile %s\n\n'
                'IMAPStore remote\nAccount kurir\n\n'
                'MaildirStore local\nPath %s/\nInbox %s/INBOX\n'
                'SubFolders Verbatim\n\n'
                'Channel sync\nFar :remote:\nNear :local:\nPatterns *\n'
                'Create Both\nExpunge Both\nSyncState *\nSync All\n' % (
                    k.port('imaps'), USER, PASSWORD,
                    os.path.join(k.state_dir, 'tls', 'cert.pem'),
                    local, local))
    # 1: everything comes down, byte for byte (CR LF stored as LF)
    run_mbsync(rc, home)
    inbox = os.path.join(local, 'INBOX')
    got = maildir_files(inbox)
    check(len(got) == 4, 'local INBOX after first sync: %r' % got)
    for i in range(1, 5):
        path, info = got['INBOX.%d@test' % i]
        with open(path, 'rb') as f:
            body = strip_tuid(f.read())
        check(body == sent['INBOX.%d' % i].replace(b'\r\n', b'\n'),
              'message %d differs locally:\n%r' % (i, body))
        check(('S' in info) == (i == 4), 'flags of %d: %r' % (i, info))
    reports = os.path.join(local, 'Work', 'Reports')
    got = maildir_files(reports)
    check(list(got) == ['Reports.9@test'], 'Work/Reports: %r' % got)
    # 2: local changes go up: \Seen on 1, 2 deleted, a new message
    got = maildir_files(inbox)
    path, info = got['INBOX.1@test']
    base = os.path.basename(path).split(':2,', 1)[0]
    os.rename(path, os.path.join(inbox, 'cur', base + ':2,S'))
    os.unlink(got['INBOX.2@test'][0])
    new = message(5).replace(b'\r\n', b'\n')
    with open(os.path.join(inbox, 'new', '1700000000.kurirtest.host'),
              'wb') as f:
        f.write(new)
    run_mbsync(rc, home)
    srv = server_state(k, 'INBOX')
    check('\\Seen' in srv['INBOX.1@test'][1], 'local \\Seen: %r' % srv)
    check('INBOX.2@test' not in srv, 'local deletion: %r' % srv)
    check('INBOX.5@test' in srv, 'local new message: %r' % srv)
    m = imap(k)
    m.select('INBOX')
    typ, data = m.uid('FETCH', str(srv['INBOX.5@test'][0]),
                      '(BODY.PEEK[])')
    check(strip_tuid(data[0][1]) == new.replace(b'\n', b'\r\n'),
          'uploaded message differs: %r' % data[0][1])
    # 3: server changes come down: \Flagged on 3, 4 expunged
    m.uid('STORE', str(srv['INBOX.3@test'][0]), '+FLAGS', r'(\Flagged)')
    m.uid('STORE', str(srv['INBOX.4@test'][0]), '+FLAGS', r'(\Deleted)')
    m.expunge()
    m.logout()
    run_mbsync(rc, home)
    got = maildir_files(inbox)
    check(set(got) == {'INBOX.1@test', 'INBOX.3@test', 'INBOX.5@test'},
          'local INBOX after server changes: %r' % sorted(got))
    check('F' in got['INBOX.3@test'][1], 'server \\Flagged: %r' % got)
    check('S' in got['INBOX.1@test'][1], 'local \\Seen kept: %r' % got)
    # 4: a second run with nothing to do changes nothing
    run_mbsync(rc, home)
    check(set(maildir_files(inbox)) == set(got), 'idempotent sync')
    check(set(server_state(k, 'INBOX')) == set(got), 'server converged')


def curl(k, url, *args, data=None):
    a = [CURL, '-sS', '--max-time', '30', '-u', '%s:%s' % (USER, PASSWORD)]
    a += list(args) + [url]
    r = subprocess.run(a, capture_output=True, timeout=60, input=data)
    if r.returncode != 0:
        raise AssertionError('curl %s failed (%d): %s' % (
            url, r.returncode, r.stderr.decode()))
    return r.stdout


def test_curl(k, tmp):
    m = imap(k)
    msgs = [message(i, 'curl') for i in range(1, 4)]
    uids = []
    for data in msgs:
        typ, resp = m.append('INBOX', None, None, data)
        uids.append(int(re.search(rb'APPENDUID \d+ (\d+)',
                                  resp[0]).group(1)))
    m.create('Lists/kurir')
    m.select('INBOX')
    seq2 = int(m.search(None, 'UID', str(uids[1]))[1][0])
    m.logout()
    cert = os.path.join(k.state_dir, 'tls', 'cert.pem')
    imap_url = 'imap://127.0.0.1:%d' % k.port('imap')
    tls = ['--cacert', cert, '--resolve',
           'localhost:%d:127.0.0.1' % k.port('imaps'), '--resolve',
           'localhost:%d:127.0.0.1' % k.port('imap')]
    imaps_url = 'imaps://localhost:%d' % k.port('imaps')
    starttls_url = 'imap://localhost:%d' % k.port('imap')
    for url, extra in ((imap_url, []), (imaps_url, tls),
                       (starttls_url, tls + ['--ssl-reqd'])):
        out = curl(k, url + '/', *extra).decode()
        for box in ('INBOX', 'Sent', 'Trash', 'Lists/kurir'):
            check(re.search(r'^\* LIST \([^)]*\) "/" "?%s"?\r?$' %
                            re.escape(box), out, re.M),
                  '%s: %s not listed:\n%s' % (url, box, out))
        check('\\HasChildren' in out, 'CHILDREN in LIST: %s' % out)
        for uid, data in zip(uids, msgs):
            body = curl(k, '%s/INBOX;UID=%d' % (url, uid), *extra)
            check(body == data, '%s: UID %d differs: %r' % (url, uid, body))
        # a section and a search
        body = curl(k, '%s/INBOX;UID=%d;SECTION=TEXT' % (url, uids[1]),
                    *extra)
        check(body == msgs[1].split(b'\r\n\r\n', 1)[1], body)
        out = curl(k, '%s/INBOX?SUBJECT%%20%%22message%%202%%22' % url,
                   *extra)
        check(out.strip() == b'* SEARCH %d' % seq2,
              'curl search: %r' % out)
    # upload with curl, read back with imaplib
    up = message(7, 'upload')
    upfile = os.path.join(tmp, 'upload.eml')
    with open(upfile, 'wb') as f:
        f.write(up)
    curl(k, imap_url + '/Lists/kurir', '-T', upfile)
    m = imap(k)
    m.select('Lists/kurir')
    typ, data = m.fetch('1', '(BODY.PEEK[])')
    check(data[0][1] == up, 'curl upload: %r' % data)
    m.logout()


def main():
    kt.require_modules('imap')
    backends = kt.backends()
    if not backends:
        print('skip: no storage module built')
        return kt.SKIP
    if MBSYNC is None and CURL is None:
        print('skip: neither mbsync nor curl is installed')
        return kt.SKIP
    tmp = tempfile.mkdtemp(prefix='kurir-imapcli-')
    try:
        for b in backends:
            with kt.Kurird(storage=b, protocols='imap',
                           overrides={'auth_throttle_exempt':
                                      '127.0.0.0/8'}) as k:
                k.add_user(USER, PASSWORD)
                if MBSYNC is not None:
                    test_mbsync(k, os.path.join(tmp, b))
                    print('%s mbsync: ok' % b)
                else:
                    print('mbsync not installed: skipped')
                if CURL is not None and b == backends[0]:
                    test_curl(k, tmp)
                    print('%s curl: ok' % b)
                elif CURL is None:
                    print('curl not installed: skipped')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
