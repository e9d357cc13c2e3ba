"""Private instances of the real peers, on loopback, in the test folder:
Postfix (an MTA that hands mail to lmtpd over LMTP) and Dovecot (an IMAP
server reading lmtpd's Maildirs back).  Each writes its own config, logs
to a file (there is no syslog here) and is stopped by stop(), which the
fixtures always call."""
import os
import pwd
import re
import shutil
import signal
import subprocess
import time

from integlib import free_port, wait_for


def have(prog):
    return shutil.which(prog) is not None or os.path.exists(prog)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# Every service Postfix needs to take SMTP in and hand it to LMTP, none
# chrooted (Debian's own master.cf chroots lmtp, which would hide the
# socket path), smtpd on a loopback port only.
POSTFIX_MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A Postfix instance accepting SMTP for example.com on a loopback
    port and delivering it with virtual_transport = lmtp:unix:SOCKET."""

    def __init__(self, workdir, lmtp_socket):
        self.dir = os.path.join(workdir, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.maillog = os.path.join(self.dir, "maillog")
        self.port = free_port()
        for d in (self.dir, self.etc, self.spool, self.data):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        main_cf = """\
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.net
mydomain = example.net
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = example.com
virtual_alias_maps = inline:{{ info@example.com=alice@example.com }}
virtual_transport = lmtp:unix:{sock}
lmtp_destination_recipient_limit = 50
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = {maillog}
maillog_file_prefixes = {dir}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = yes
delay_warning_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
""".format(etc=self.etc, spool=self.spool, data=self.data, sock=lmtp_socket,
           maillog=self.maillog, dir=self.dir)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(main_cf)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER_CF.format(listen="127.0.0.1:%d" % self.port))

    def _postfix(self, *args, check=True):
        return subprocess.run(["postfix", "-c", self.etc] + list(args),
                              capture_output=True, text=True, check=check, timeout=60)

    def start(self):
        # postfix check creates the queue folders with their owners.
        r = self._postfix("check", check=False)
        if r.returncode != 0:
            raise AssertionError("postfix check failed: %s%s\n%s" %
                                 (r.stdout, r.stderr, self.log()))
        r = self._postfix("start", check=False)
        if r.returncode != 0:
            raise AssertionError("postfix start failed: %s%s\n%s" %
                                 (r.stdout, r.stderr, self.log()))
        wait_for(self._accepting, 20, what="postfix smtpd on port %d" % self.port)
        return self

    def _accepting(self):
        import socket
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def master_pid(self):
        return _read_pid(os.path.join(self.spool, "pid", "master.pid"))

    def stop(self):
        pid = self.master_pid()
        self._postfix("stop", check=False)
        if pid is not None:
            deadline = time.monotonic() + 10
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid):
                self._postfix("abort", check=False)
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def sent_lines(self):
        return re.findall(r"postfix/lmtp\[\d+\]: \w+: to=<([^>]+)>, "
                          r"(?:orig_to=<[^>]*>, )?relay=(\S+), "
                          r".*status=sent \((.*)\)$", self.log(), re.M)


class Dovecot:
    """Dovecot's IMAP server on a loopback port, reading the Maildirs
    lmtpd wrote (userdb static: uid lmtpdtest, home MAILROOT/%d/%n), any
    user, password "pass"."""

    def __init__(self, workdir, mail_root, run_user):
        self.dir = os.path.join(workdir, "dovecot")
        self.run = os.path.join(self.dir, "run")
        self.state = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.port = free_port()
        for d in (self.dir, self.run, self.state):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        conf = """\
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {state}
instance_name = lmtpd-integ-{port}
log_path = {log}
info_log_path = {log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
passdb {{
  driver = static
  args = password=pass
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={mail}/%d/%n allow_all_users=yes
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""".format(run=self.run, state=self.state, port=self.port, log=self.log_path,
           user=run_user, mail=mail_root)
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        # dovecot forks into the background: give it files, not pipes.
        with open(self.log_path, "ab") as out:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL,
                               stdout=out, stderr=out, timeout=30)
        if r.returncode != 0:
            raise AssertionError("dovecot failed to start:\n%s" % self.log())
        wait_for(self._accepting, 20, what="dovecot imap on port %d" % self.port)
        return self

    def _accepting(self):
        import socket
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        pid = _read_pid(os.path.join(self.run, "master.pid"))
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""
