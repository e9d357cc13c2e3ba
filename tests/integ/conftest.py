"""Fixtures: a private temp folder per test, the real lmtpd started in it,
and teardown that always stops (and if need be kills) everything started,
then checks the daemon's log for crashes.

Run with Debian's python3 (`make integration` does); LMTPD_BUILDDIR points
at the build tree (default /work/main/_build).
"""
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

import integlib
from integlib import Lmtpd
from peers import Postfix, have
from sieve_helpers import SmtpSink


def pytest_report_header(config):
    return "lmtpd: %s" % integlib.LMTPD


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


@pytest.fixture(scope="session")
def run_user():
    """The unprivileged user lmtpd runs as; created when missing."""
    if not os.access(integlib.LMTPD, os.X_OK):
        pytest.exit("lmtpd is not built at %s (set LMTPD_BUILDDIR)" % integlib.LMTPD, 2)
    if os.geteuid() != 0:
        pytest.skip("the integration tests run as root (they create a user, "
                    "run Postfix and Dovecot, mount a tmpfs)")
    try:
        pwd.getpwnam(integlib.RUN_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin",
                        "--user-group", integlib.RUN_USER], check=True)
    return integlib.RUN_USER


def _mounts_under(path):
    out = []
    with open("/proc/mounts") as f:
        for line in f:
            mnt = line.split()[1].replace("\\040", " ")
            if mnt == path or mnt.startswith(path + "/"):
                out.append(mnt)
    return sorted(out, key=len, reverse=True)


@pytest.fixture
def workdir(run_user):
    """A fresh folder, 0755 so peers that drop privileges can enter it;
    removed afterwards (any tmpfs under it unmounted first)."""
    d = tempfile.mkdtemp(prefix="lmtpd-integ-")
    os.chmod(d, 0o755)
    yield d
    for m in _mounts_under(d):
        subprocess.run(["umount", "-l", m], check=False)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lmtpd_factory(workdir, request):
    """make(name=..., start=True, **config) -> a running Lmtpd.  At
    teardown every instance gets SIGTERM (and must exit 0), then SIGKILL
    for whatever is left of its process groups; unless the test is marked
    worker_deaths, its log must show no crash."""
    made = []

    def make(name="lmtpd", start=True, **conf):
        d = workdir if not made and name == "lmtpd" else os.path.join(workdir, name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        inst = Lmtpd(d, **conf)
        made.append(inst)
        if start:
            inst.start()
        return inst

    yield make
    problems = []
    for inst in made:
        try:
            status = inst.stop()
            if status not in (None, 0):
                problems.append("lmtpd exited with status %s" % status)
        except AssertionError as e:
            problems.append(str(e))
        finally:
            inst.kill()
        log = inst.log()
        if request.node.get_closest_marker("worker_deaths") is None:
            for marker in integlib.CRASH_MARKERS:
                if marker in log:
                    problems.append("log of %s shows '%s'" % (inst.dir, marker))
        if problems or _failed(request):
            print("---- %s (last 60 lines)" % inst.log_path)
            print("\n".join(log.splitlines()[-60:]))
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def lmtpd(lmtpd_factory):
    """lmtpd on built-in defaults plus: a UNIX socket in the test folder,
    4 workers, mail under <workdir>/mail/%d/%n/Maildir, run as lmtpdtest."""
    return lmtpd_factory()


@pytest.fixture
def sink(workdir):
    """smtp-sink on a loopback port, for what lmtpd hands to the MTA
    (redirects, vacation replies, delivery reports)."""
    if not have("smtp-sink"):
        pytest.skip("smtp-sink (postfix) is not installed")
    s = SmtpSink(workdir).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def postfix(workdir, lmtpd):
    """A private Postfix (loopback) relaying example.com to lmtpd by LMTP;
    started by the test once lmtpd is configured."""
    if not have("postfix"):
        pytest.skip("postfix is not installed (./quickstart deps)")
    pf = Postfix(workdir, lmtpd.sock)
    try:
        yield pf
    finally:
        pf.stop()
        if os.environ.get("INTEG_VERBOSE"):
            print(pf.log())
