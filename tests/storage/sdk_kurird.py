"""The SDK example in a real server: kurird loads the out-of-tree
memstore module (module_dir = its directory, then the build's modules),
and SMTP delivers through it: 250 after the delivery, an over-quota
user gets 552 5.2.2 from the example's own quota check, and the log
names the module.  Usage: sdk_kurird.py MODULE_DIR (from sdk.test)."""
import os
import smtplib
import sys

sys.path.insert(0, os.path.join(os.environ.get('KURIR_SRCDIR', '.'),
                                'tests', 'integration'))
import kurirtest as kt                                   # noqa: E402

if (not os.path.exists(kt.KURIRD) or not kt.have_module('smtp') or
        not kt.have_module('passwd')):
    print('skip: needs kurird and the smtp and passwd modules')
    sys.exit(0)

MSG = b'From: x@example.org\r\nSubject: sdk\r\n\r\nthrough memstore\r\n'
moddir = sys.argv[1]
with kt.Kurird(storage='memstore', protocols='smtp', workers=1,
               overrides={'module_dir': moddir + ':' + kt.MODULE_DIR,
                          'default_quota_messages': '1'}) as k:
    k.add_user('alice@localhost', 'pw-a')
    s = smtplib.SMTP('127.0.0.1', k.port('smtp'), timeout=30)
    s.ehlo('client.example.org')
    refused = s.sendmail('x@example.org', ['alice@localhost'], MSG)
    assert not refused, refused
    try:
        s.sendmail('x@example.org', ['alice@localhost'], MSG)
        raise AssertionError('second message over quota was accepted')
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 552, e
    s.quit()
    log = k.log_text()
    assert 'memstore' in log, log[-2000:]
print('kurird delivered through memstore')
