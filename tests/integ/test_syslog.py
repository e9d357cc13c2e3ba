"""Without -f lmtpd detaches and logs to syslog with facility mail.  The
test gives it a syslog of its own: a private mount namespace where /dev
is a small tmpfs holding /dev/null and a /dev/log that is the test's
datagram socket, so nothing of the machine's /dev is changed."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import integlib
from integlib import make_message, read_new, wait_for
from sieve_helpers import write_script

LOG_MAIL = 2 << 3
LOG_INFO = 6
LOG_WARNING = 4


def records(sock):
    out = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return out
        out.append(data.decode("utf-8", "replace"))


def read_pid(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") else None


def started_with(conf_path):
    """Pids of the lmtpd processes running with this config file."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if conf_path.encode() in argv and alive(int(name)):
            pids.append(int(name))
    return pids


def alive(pid):
    """Running (a zombie waiting for whoever adopted it is not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def syslog_socket(workdir):
    """A datagram socket standing for /dev/log, and its path."""
    logdir = os.path.join(workdir, "syslog")
    os.makedirs(logdir)
    log_path = os.path.join(logdir, "log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(log_path)
    os.chmod(log_path, 0o666)
    sock.setblocking(False)
    return sock, log_path


def start_detached(log_path, conf_path):
    """lmtpd -c conf_path without -f, in a mount namespace whose /dev/log
    is log_path; returns when the command does."""
    # Inside the namespace: keep the real /dev reachable for a moment,
    # put a tmpfs over /dev, bind /dev/null and the test's socket into it.
    script = (
        'set -e\n'
        'old=$(mktemp -d)\n'
        'mount --bind /dev "$old"\n'
        'mount -t tmpfs -o size=64k,mode=0755 lmtpd-test-dev /dev\n'
        'touch /dev/null /dev/log\n'
        'mount --bind "$old/null" /dev/null\n'
        'mount --bind "$1" /dev/log\n'
        'umount "$old"; rmdir "$old"\n'
        'exec "$2" -c "$3"\n')
    return subprocess.run(["unshare", "--mount", "--propagation", "private",
                           "sh", "-c", script, "sh", log_path, integlib.LMTPD, conf_path],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) missing")
def test_daemon_logs_to_syslog_facility_mail(lmtpd_factory, workdir):
    d = lmtpd_factory(start=False)
    # Written before the switch to the run-as user, by root: in a folder
    # only root may write to, as /run.
    run = os.path.join(workdir, "run")
    os.makedirs(run)
    os.chmod(run, 0o755)
    pid_file = os.path.join(run, "lmtpd.pid")
    d.write_config(pid_file=pid_file)
    sock, log_path = syslog_socket(workdir)
    # A script that does not parse: the delivery logs a warning (and keeps
    # the message), so there is a warning whose severity can be checked.
    write_script(os.path.join(d.mail, "example.com", "syslog"),
                 'require "fileinto";\nfileinto "Work"\n')
    r = start_detached(log_path, d.conf_path)
    pid = None
    try:
        got = []
        try:
            # The command returns once the daemon has started, its pid
            # file written.
            assert r.returncode == 0, r.stderr
            assert r.stderr == "", r.stderr
            pid = read_pid(pid_file)
            assert pid is not None and alive(pid)
        finally:
            got.extend(records(sock))
            print("syslog:", got)
        # The workers (the lmtpd processes but the master) hold no
        # descriptor of root's pid file.  A worker forked a moment ago
        # has it until its first steps close it: each gets a few seconds.
        def holds_pid_file(w):
            fd_dir = "/proc/%d/fd" % w
            try:
                fds = os.listdir(fd_dir)
            except FileNotFoundError:
                return False
            for fd in fds:
                try:
                    if os.readlink(os.path.join(fd_dir, fd)).startswith(pid_file):
                        return True
                except FileNotFoundError:
                    continue
            return False

        workers = wait_for(lambda: [p for p in started_with(d.conf_path) if p != pid] or None,
                           15, what="workers")
        for w in workers:
            wait_for(lambda: not holds_pid_file(w), 5,
                     what="worker %d without the pid file open" % w)

        def listening():
            c = socket.socket(socket.AF_UNIX)
            try:
                c.connect(d.sock)
                return True
            except OSError:
                return False
            finally:
                c.close()
        wait_for(listening, 15, what="lmtpd listening on %s" % d.sock)
        t = d.deliver(["syslog@example.com"], make_message("to syslog"))
        assert t.final_codes() == [250]
        assert len(read_new(d.maildir("syslog@example.com"))) == 1

        def delivered():
            got.extend(records(sock))
            return any("status=sent" in x for x in got) and \
                any("keeping the message in INBOX" in x for x in got)
        wait_for(delivered, 10, what="the delivery line on syslog")
        lines = [re.match(r"^<(\d+)>(.*)$", x, re.S) for x in got]
        assert all(lines), got
        for m in lines:
            assert int(m.group(1)) & ~7 == LOG_MAIL, m.group(0)
        sent = [m for m in lines if "status=sent" in m.group(2)]
        assert int(sent[0].group(1)) & 7 == LOG_INFO
        assert re.search(r"lmtpd\[\d+\]: [0-9A-F]+: to=<syslog@example.com>, .*"
                         r"dsn=2\.0\.0, status=sent", sent[0].group(2)), sent[0].group(2)
        # Warnings carry their own severity.
        warned = [m for m in lines if "warning:" in m.group(2)]
        assert any("keeping the message in INBOX" in m.group(2) for m in warned), got
        for m in warned:
            assert int(m.group(1)) & 7 == LOG_WARNING, m.group(0)
        # Nothing goes to the (detached) stderr log file.
        assert d.log() == ""
    finally:
        stuck = False
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            stuck = alive(pid)
        # Whatever is left of it (no pid file read, a stuck master, its
        # workers) is found by its config path and killed.
        for p in started_with(d.conf_path):
            os.kill(p, signal.SIGKILL)
        sock.close()
        if stuck:
            pytest.fail("lmtpd did not stop on SIGTERM")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) missing")
def test_daemon_start_failure_after_fork_is_exit_status_1(lmtpd_factory, workdir):
    """A start that fails after the daemon has forked (here: the run-as
    user cannot reach state_dir, found after the switch) still ends the
    lmtpd command with status 1, and the reason is logged."""
    d = lmtpd_factory(start=False)
    assert d.run_as is not None
    private = os.path.join(workdir, "private")
    os.makedirs(private)
    os.chmod(private, 0o700)
    state = os.path.join(private, "state")
    run = os.path.join(workdir, "run")
    os.makedirs(run)
    os.chmod(run, 0o755)
    pid_file = os.path.join(run, "lmtpd.pid")
    d.write_config(state_dir=state, pid_file=pid_file)
    sock, log_path = syslog_socket(workdir)
    try:
        r = start_detached(log_path, d.conf_path)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "the daemon did not start" in r.stderr, r.stderr
        got = []
        wait_for(lambda: got.extend(records(sock)) or
                 any("is not usable by uid" in x for x in got), 10,
                 what="the reason on syslog")
        assert not started_with(d.conf_path)
        # the pid file the daemon wrote before it failed is gone
        assert not os.path.exists(pid_file), os.listdir(run)

        # a pid file that can not be written stops the start
        missing = os.path.join(workdir, "no-such-folder", "lmtpd.pid")
        d.write_config(pid_file=missing)
        r = start_detached(log_path, d.conf_path)
        assert r.returncode == 1, (r.returncode, r.stderr)
        wait_for(lambda: got.extend(records(sock)) or
                 any("pid_file %s: No such file or directory" % missing in x for x in got),
                 10, what="the pid_file error on syslog")
        assert not started_with(d.conf_path)
    finally:
        for p in started_with(d.conf_path):
            os.kill(p, signal.SIGKILL)
        sock.close()
