"""make install (into a DESTDIR): the programs, the man pages, the sample
config, the sample sieve_before script and the systemd unit land where
README says, and the installed lmtpd accepts the installed sample config
and the unit's paths; the installed lmtpd-sieve accepts the sample
script."""
import os
import re
import shutil
import subprocess

import pytest

import integlib


def configured(var):
    """A variable of the build tree's Makefile (prefix, sysconfdir...)."""
    with open(os.path.join(integlib.BUILDDIR, "Makefile")) as f:
        for line in f:
            m = re.match(r"^%s = (.*)$" % re.escape(var), line)
            if m:
                return m.group(1).strip()
    raise AssertionError("%s not in the Makefile" % var)


def expand(value):
    prefix = configured("prefix")
    value = value.replace("${prefix}", prefix)
    return value.replace("${exec_prefix}", configured("exec_prefix").replace("${prefix}", prefix))


@pytest.mark.fast
def test_make_install_destdir(workdir):
    dest = os.path.join(workdir, "dest")
    r = subprocess.run(["make", "-s", "-C", integlib.BUILDDIR, "install", "DESTDIR=" + dest],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    prefix = configured("prefix")
    sbindir = expand(configured("sbindir"))
    bindir = expand(configured("bindir"))
    sysconfdir = expand(configured("sysconfdir"))
    mandir = expand(configured("mandir").replace("${datarootdir}", configured("datarootdir")))

    def at(path):
        return dest + path

    for prog in (sbindir + "/lmtpd", sbindir + "/lmtpd-map",
                 bindir + "/lmtpd-sieve", bindir + "/lmtpd-score", bindir + "/lmtpd-learn"):
        assert os.access(at(prog), os.X_OK), prog
    pages = ("man8/lmtpd.8", "man5/lmtpd.conf.5", "man8/lmtpd-map.8",
             "man1/lmtpd-sieve.1", "man1/lmtpd-score.1", "man1/lmtpd-learn.1")
    for page in pages:
        assert os.path.isfile(at(mandir + "/" + page)), page
    sample = at(sysconfdir + "/lmtpd/lmtpd.conf.sample")
    unit = at(prefix + "/lib/systemd/system/lmtpd.service")
    assert os.path.isfile(sample)
    with open(unit) as f:
        text = f.read()
    # The unit names the installed daemon and config, checks before start.
    assert "ExecStart=%s/lmtpd -f -c %s/lmtpd/lmtpd.conf" % (sbindir, sysconfdir) in text
    assert "ExecStartPre=%s/lmtpd -t -c %s/lmtpd/lmtpd.conf" % (sbindir, sysconfdir) in text
    assert not re.search(r"@[a-z_]+@", text), text

    # The sample sieve_before script: valid, and it files a message
    # scored 5 or more into Junk, the rest stays in INBOX.
    junk = at(sysconfdir + "/lmtpd/sieve/before.d/10-junk.sieve")
    assert os.path.isfile(junk)
    lmtpd_sieve = at(bindir + "/lmtpd-sieve")
    r = subprocess.run([lmtpd_sieve, junk], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "%s: valid\n" % junk, r.stdout + r.stderr
    for score, action in (("7", 'fileinto "Junk"'), ("4", "keep")):
        msg = os.path.join(workdir, "score-%s.eml" % score)
        with open(msg, "w") as f:
            f.write("X-Spam-Score: %s\nFrom: a@example.org\nSubject: s\n\nbody\n" % score)
        r = subprocess.run([lmtpd_sieve, "-e", "from=a@example.org",
                            "-e", "to=bob@example.com", junk, msg],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[1].strip().startswith(action), r.stdout

    # The installed daemon checks the installed sample config; -n shows
    # the built-in defaults it was configured with.
    r = subprocess.run([at(sbindir + "/lmtpd"), "-t", "-c", sample],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([at(sbindir + "/lmtpd"), "-n", "-c", sample],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^listen = 127\.0\.0\.1:2424$", r.stdout, re.M), r.stdout
    # Every page renders without a warning from groff (what --warnings
    # asks for) wherever man is installed.
    if shutil.which("man") is None:
        pytest.skip("man (package man-db) is not installed: pages not rendered")
    for page in pages:
        r = subprocess.run(["man", "--warnings", "-l", "-P", "cat", at(mandir + "/" + page)],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80"))
        assert r.returncode == 0, (page, r.stderr)
        assert r.stderr == "", (page, r.stderr)
        name = os.path.basename(page).rsplit(".", 1)[0]
        assert re.search(r"^NAME\n\s+%s\b" % re.escape(name), r.stdout, re.M), \
            (page, r.stdout[:500])
