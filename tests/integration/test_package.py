"""The Debian package: built with cpack from this build tree, installed on this machine with
dpkg -i, checked (binary, system user, modes, conffile, unit accepted by systemd-analyze verify,
man page, pre-upgrade backup), then removed and purged again.

Needs root; skipped with a message otherwise, and when casedesk is already installed here (the test
never touches an installation it did not make)."""
import glob
import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

from harness import BIN

UNIT = '/lib/systemd/system/casedesk.service'
CONF = '/etc/casedesk/casedesk.toml'


def build_dir():
    d = os.path.dirname(os.path.abspath(BIN))
    while d != '/':
        if os.path.exists(os.path.join(d, 'CPackConfig.cmake')):
            return d
        d = os.path.dirname(d)
    return None


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=kw.pop('timeout', 300), **kw)


def dpkg(*args):
    """dpkg, waiting (up to 2 min) while another dpkg or apt holds its lock."""
    for _ in range(120):
        r = run('dpkg', *args)
        if r.returncode == 0 or 'lock' not in r.stderr:
            return r
        time.sleep(1)
    return r


def installed():
    r = run('dpkg-query', '-W', '-f=${Status}', 'casedesk')
    return r.returncode == 0 and 'installed' in r.stdout and 'not-installed' not in r.stdout


@unittest.skipUnless(os.geteuid() == 0, 'needs root: installs the .deb with dpkg -i (run as root, as CI does)')
@unittest.skipUnless(shutil.which('dpkg') and shutil.which('cpack'), 'needs dpkg and cpack')
class PackageTest(unittest.TestCase):
    def setUp(self):
        if installed() or os.path.exists('/usr/bin/casedesk'):
            self.skipTest('casedesk is already installed on this machine; not touching it')
        for path in ('/etc/casedesk', '/var/lib/casedesk', '/var/backups/casedesk'):
            if os.path.exists(path):
                self.skipTest('%s exists (left from another installation); not touching it' % path)
        self.user_existed = True
        try:
            pwd.getpwnam('casedesk')
        except KeyError:
            self.user_existed = False
        self.build = build_dir()
        if not self.build:
            self.skipTest('no CPackConfig.cmake above %s' % BIN)
        self.out = tempfile.mkdtemp(prefix='cd-deb-')
        self.addCleanup(shutil.rmtree, self.out, ignore_errors=True)

    def cleanup_install(self):
        dpkg('--purge', 'casedesk')
        # What postrm keeps on purge on purpose (patient data, the user): this test made them.
        shutil.rmtree('/var/lib/casedesk', ignore_errors=True)
        shutil.rmtree('/var/backups/casedesk', ignore_errors=True)
        if not self.user_existed:
            run('userdel', 'casedesk')
            run('groupdel', 'casedesk')

    def test_deb_installs_runs_upgrades_and_goes_away(self):
        r = run('cpack', '-G', 'DEB', '--config', os.path.join(self.build, 'CPackConfig.cmake'), '-B', self.out,
                cwd=self.build, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        debs = glob.glob(os.path.join(self.out, 'casedesk_*.deb'))
        self.assertEqual(len(debs), 1, os.listdir(self.out))
        deb = debs[0]

        info = run('dpkg-deb', '-I', deb).stdout
        self.assertIn('Package: casedesk', info)
        self.assertRegex(info, r'Depends: .*libsystemd0')
        self.assertRegex(info, r'Depends: .*libcurl4')
        self.assertIn('/etc/casedesk/casedesk.toml', self.conffiles(deb))

        self.addCleanup(self.cleanup_install)
        r = dpkg('-i', deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        r = run('/usr/bin/casedesk', '--version')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'^casedesk \d+\.\d+\.\d+')

        user = pwd.getpwnam('casedesk')
        self.assertLess(user.pw_uid, 1000)
        self.assertEqual(user.pw_shell, '/usr/sbin/nologin')
        st = os.stat('/var/lib/casedesk')
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (user.pw_uid, 0o700))
        st = os.stat(CONF)
        self.assertEqual((st.st_uid, grp.getgrgid(st.st_gid).gr_name, stat.S_IMODE(st.st_mode)),
                         (0, 'casedesk', 0o640))
        with open(CONF) as f:
            self.assertIn('path = "/var/lib/casedesk/casedesk.db"', f.read())
        self.assertTrue(os.path.exists('/usr/share/man/man1/casedesk.1.gz'))
        self.assertTrue(os.path.exists('/usr/share/casedesk/templates/ack.txt.mustache'))

        # The example config is valid as shipped (with its password variable set).
        r = run('/usr/bin/casedesk', 'check-config', CONF, env=dict(os.environ, CASEDESK_IMAP_PASSWORD='x'))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # systemd accepts the unit (the binary and the man page it names are there now).
        r = run('systemd-analyze', 'verify', UNIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(UNIT) as f:
            unit = f.read()
        for line in ('Type=notify', 'WatchdogSec=', 'Restart=on-failure', 'User=casedesk', 'StateDirectory=casedesk',
                     'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes',
                     'ExecReload=/bin/kill -HUP $MAINPID'):
            self.assertIn(line, unit)

        # Upgrade (the same package again): the operator's config stays, the store is copied first.
        r = run('runuser', '-u', 'casedesk', '--', '/usr/bin/casedesk', 'status', '--config', CONF)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # creates the store as the daemon would
        store = '/var/lib/casedesk/casedesk.db'
        self.assertEqual(stat.S_IMODE(os.stat(store).st_mode), 0o600)
        with open(CONF, 'a') as f:
            f.write('# changed by the operator\n')
        r = dpkg('-i', '--force-confold', deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(CONF) as f:
            self.assertIn('# changed by the operator', f.read())
        copies = glob.glob('/var/backups/casedesk/casedesk-*.db')
        self.assertEqual(len(copies), 1, r.stdout + r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(copies[0]).st_mode), 0o600)
        # Root's copy left nothing behind that the daemon could not open.
        for name in os.listdir('/var/lib/casedesk'):
            self.assertEqual(os.stat(os.path.join('/var/lib/casedesk', name)).st_uid, user.pw_uid, name)

        # Remove keeps the config; purge removes it.
        r = dpkg('-r', 'casedesk')
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists('/usr/bin/casedesk'))
        self.assertFalse(os.path.exists(UNIT))
        self.assertTrue(os.path.exists(CONF))
        r = dpkg('--purge', 'casedesk')
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(CONF))
        self.assertFalse(installed())
        # The store (patient data) is kept on purge, and postrm says so.
        self.assertTrue(os.path.exists(store))
        self.assertIn('/var/lib/casedesk', r.stderr)

    def conffiles(self, deb):
        d = tempfile.mkdtemp(dir=self.out)
        run('dpkg-deb', '-e', deb, d)
        with open(os.path.join(d, 'conffiles')) as f:
            return f.read()


if __name__ == '__main__':
    # Run by ctest as a script: 77 tells it the test was skipped (SKIP_RETURN_CODE).
    result = unittest.main(exit=False, verbosity=2).result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun and len(result.skipped) == result.testsRun:
        for _, reason in result.skipped:
            print('skipped:', reason)
        sys.exit(77)
    sys.exit(0)
