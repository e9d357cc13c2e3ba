"""Privileges and ownership: the UNIX socket gets listen_mode and
listen_owner from the moment it exists; once the listeners are bound every
lmtpd process runs as user/group (real, effective, saved and filesystem
ids, no root in the supplementary groups), and what it writes (Maildir
folders, messages, state) belongs to that user; started as root with no
user, lmtpd warns."""
import grp
import os
import pwd
import re
import stat
import subprocess
import sys

import pytest

from integlib import LMTPD, RUN_USER, make_message, read_new, wait_for
from peers import have
from sieve_helpers import SmtpSink

EXTRA_GROUP = "lmtpdtestg"
OTHER_USER = "nobody"


@pytest.fixture(scope="module")
def extra_group(run_user):
    try:
        grp.getgrnam(EXTRA_GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", EXTRA_GROUP], check=True)
    return grp.getgrnam(EXTRA_GROUP)


def proc_ids(pid):
    """(uids, gids, groups) of a process, each as /proc shows them."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(x) for x in value.split()]
    return ids["Uid"], ids["Gid"], ids["Groups"]


def connect_as(user, path):
    """Exit status of a child, running as user, that connects to path."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1])\n"
            "except PermissionError:\n sys.exit(3)\n"
            "sys.exit(0)\n")
    return subprocess.run([sys.executable, "-c", code, path], user=user,
                          timeout=20).returncode


def test_socket_mode_and_owner(lmtpd_factory):
    """listen_mode 0660 and listen_owner: the socket is srw-rw---- and
    belongs to that user and its primary group; its owner may connect, a
    user outside the group may not."""
    d = lmtpd_factory(listen_mode="0660", listen_owner=RUN_USER)
    st = os.lstat(d.sock)
    owner = pwd.getpwnam(RUN_USER)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (owner.pw_uid, owner.pw_gid)
    assert connect_as(RUN_USER, d.sock) == 0
    assert connect_as(OTHER_USER, d.sock) == 3


def test_socket_mode_0600_refuses_group(lmtpd_factory):
    """listen_mode 0600: only the owner may connect, and a mode with
    set-id bits is a config error."""
    d = lmtpd_factory(listen_mode="0600", listen_owner=RUN_USER)
    assert stat.S_IMODE(os.lstat(d.sock).st_mode) == 0o600
    assert connect_as(RUN_USER, d.sock) == 0
    assert connect_as(OTHER_USER, d.sock) == 3
    d.stop()
    d.write_config(listen_mode="04660")
    r = subprocess.run([LMTPD, "-t", "-c", d.conf_path],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "listen_mode" in r.stderr and "0777" in r.stderr
    d.write_config(listen_mode="0600")


def test_runs_as_user_and_group(lmtpd_factory, extra_group, workdir, request):
    """user and group set: the master and every worker hold no root id,
    and the Maildir, the message and the state files it creates belong to
    user:group, folders 0700.  (A vacation script makes the delivery write
    state: its history database under state_dir; its reply goes to
    Postfix's smtp-sink.)"""
    vacation = os.path.join(workdir, "vacation.sieve")
    with open(vacation, "w") as f:
        f.write('require "vacation";\nvacation "Away.";\n')
    if not have("smtp-sink"):
        pytest.skip("smtp-sink (postfix) is not installed")
    sink = SmtpSink(workdir).start()
    request.addfinalizer(sink.stop)
    d = lmtpd_factory(group=EXTRA_GROUP, sieve_before=vacation, submission=sink.submission)
    user = pwd.getpwnam(RUN_USER)
    gid = extra_group.gr_gid
    workers = wait_for(lambda: len(d.workers()) == 4 and d.workers(), 10,
                       what="4 workers")
    for pid in [d.pid] + workers:
        uids, gids, groups = proc_ids(pid)
        assert uids == [user.pw_uid] * 4, (pid, uids)
        assert gids == [gid] * 4, (pid, gids)
        assert 0 not in groups, (pid, groups)

    t = d.deliver(["owner@example.com"],
                  make_message("ownership", sender="alice@example.org",
                               to="owner@example.com"),
                  sender="alice@example.org")
    assert t.final_codes() == [250]
    maildir = d.maildir("owner@example.com")
    files = read_new(maildir)
    assert len(files) == 1
    for path in [maildir] + [os.path.join(maildir, s) for s in ("tmp", "new", "cur")]:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, gid), path
        assert stat.S_IMODE(st.st_mode) == 0o700, (path, oct(st.st_mode))
    new = os.path.join(maildir, "new")
    name = os.listdir(new)[0]
    st = os.lstat(os.path.join(new, name))
    assert (st.st_uid, st.st_gid) == (user.pw_uid, gid)
    assert stat.S_IMODE(st.st_mode) & 0o077 == 0, oct(st.st_mode)
    state = [os.path.join(root, n) for root, dirs, names in os.walk(d.state)
             for n in dirs + names]
    # (a check of nothing proves nothing)
    assert "vacation.db" in [os.path.basename(p) for p in state], state
    [reply] = sink.wait_messages(1)
    assert reply["rcpts"] == ["alice@example.org"], reply
    for p in state:
        st = os.lstat(p)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, gid), p
    assert "running as root" not in d.log()


def test_root_without_user_warns(lmtpd_factory):
    """Started as root with neither user nor group: lmtpd still delivers,
    and its log says that mail is written as root."""
    d = lmtpd_factory(run_as=None)
    d.wait_log(r"warning: running as root: set 'user'")
    t = d.deliver(["root-run@example.com"], make_message("as root"))
    assert t.final_codes() == [250]
    maildir = d.maildir("root-run@example.com")
    assert len(read_new(maildir)) == 1
    assert os.lstat(maildir).st_uid == 0


def test_user_root_warns(lmtpd_factory):
    """user = root is running as root too: the same warning."""
    d = lmtpd_factory(run_as=None, user="root")
    d.wait_log(r"warning: running as root: set 'user'")


def test_started_as_the_configured_user(lmtpd_factory):
    """Started as user itself (systemd User=) with that user configured:
    nothing to switch, lmtpd runs and delivers; configured for another
    user, it exits 1 saying that switching needs root."""
    pw = pwd.getpwnam(RUN_USER)
    d = lmtpd_factory(name="asuser", start=False)
    os.chown(d.dir, pw.pw_uid, pw.pw_gid)
    as_user = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
    with open(d.log_path, "ab") as logf:
        d.proc = subprocess.Popen([LMTPD, "-f", "-c", d.conf_path], stdin=subprocess.DEVNULL,
                                  stdout=logf, stderr=logf, start_new_session=True,
                                  **as_user)
    d.pgids.append(d.proc.pid)
    d.wait_ready()
    t = d.deliver(["asuser@example.com"], make_message("as user"))
    assert t.final_codes() == [250]
    assert os.lstat(d.maildir("asuser@example.com")).st_uid == pw.pw_uid
    assert d.stop() == 0

    d.write_config(user=OTHER_USER)
    r = subprocess.run([LMTPD, "-f", "-c", d.conf_path], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20, **as_user)
    assert r.returncode == 1, r.stderr
    assert "switching to user %s" % OTHER_USER in r.stderr
    assert "needs root" in r.stderr
    # lmtpd -t says so too, as the start would (it said "valid").
    r = subprocess.run([LMTPD, "-t", "-c", d.conf_path], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20, **as_user)
    assert r.returncode == 1, r
    assert re.search(r"switching to user %s \(uid \d+, gid \d+\) needs root" % OTHER_USER,
                     r.stderr), r.stderr
    # A group alone names the group, not a user "-".
    d.write_config(user="", group="root")
    r = subprocess.run([LMTPD, "-t", "-c", d.conf_path], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20, **as_user)
    assert r.returncode == 1 and "switching to group gid 0 needs root" in r.stderr, r
    d.write_config(user=RUN_USER, group="")
    r = subprocess.run([LMTPD, "-t", "-c", d.conf_path], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20, **as_user)
    assert r.returncode == 0, r
