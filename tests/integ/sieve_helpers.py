"""Helpers for the Sieve integration tests: Postfix's smtp-sink as the MTA
that redirect and vacation mail is handed to, and writing users' scripts
where lmtpd (running as the test user) reads them."""
import os
import pwd
import re
import signal
import subprocess
import time

import integlib
from integlib import free_port, wait_for


class SmtpSink:
    """`smtp-sink -u nobody -d DIR/%M. 127.0.0.1:PORT 10`: accepts every
    message and dumps each transaction to a file of its own, with
    X-Mail-Args (the MAIL FROM argument) and one X-Rcpt-Args per RCPT
    before the message."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "sink")
        os.makedirs(self.dir, exist_ok=True)
        # smtp-sink drops to "nobody" before it writes its dumps.
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", "-h", "sink.test",
             "-d", os.path.join(self.dir, "%M."), "127.0.0.1:%d" % self.port, "10"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

        def up():
            import socket
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", self.port))
                return True
            except OSError:
                return False
            finally:
                s.close()
        wait_for(up, 10, what="smtp-sink on port %d" % self.port)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    @property
    def submission(self):
        return "smtp:127.0.0.1:%d" % self.port

    def messages(self):
        """Every dumped transaction (complete ones: they end with the
        message), oldest first, as dicts: sender, rcpts, headers (list of
        (name, value) of the message proper), raw (the message bytes)."""
        out = []
        files = [os.path.join(self.dir, f) for f in os.listdir(self.dir)]
        for path in sorted(files, key=os.path.getmtime):
            with open(path, "rb") as f:
                data = f.read()
            out.append(parse_dump(data))
        return out

    def wait_messages(self, n, timeout=15):
        return wait_for(lambda: len(self.messages()) >= n and self.messages(), timeout,
                        what="%d message(s) at smtp-sink" % n)


def parse_dump(data):
    """smtp-sink's dump: X-Client-*, X-Helo-Args, X-Mail-Args, X-Rcpt-Args
    lines, its own Received, then the message."""
    text = data.replace(b"\r\n", b"\n")
    d = {"sender": None, "rcpts": [], "raw": b"", "headers": []}
    lines = text.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(b"X-Mail-Args: "):
            m = re.match(rb"<([^>]*)>", line[len(b"X-Mail-Args: "):])
            d["sender"] = m.group(1).decode() if m else None
        elif line.startswith(b"X-Rcpt-Args: "):
            m = re.match(rb"<([^>]*)>", line[len(b"X-Rcpt-Args: "):])
            d["rcpts"].append(m.group(1).decode())
        elif line.startswith(b"X-Client-") or line.startswith(b"X-Helo-Args"):
            pass
        elif line.startswith(b"Received: ") and b"smtp-sink" in b"\n".join(lines[i:i + 3]):
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
            d["raw"] = b"\n".join(lines[i:])
            break
        i += 1
    headers = []
    for line in d["raw"].split(b"\n"):
        if line == b"":
            break
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip().decode(
                "utf-8", "replace"))
        elif b":" in line:
            name, _, value = line.partition(b":")
            headers.append((name.decode(), value.strip().decode("utf-8", "replace")))
    d["headers"] = headers
    return d


def header(msg, name):
    """The first value of header name in a parsed dump (None if absent)."""
    for n, v in msg["headers"]:
        if n.lower() == name.lower():
            return v
    return None


def write_script(home, text, name=".dovecot.sieve", run_as=integlib.RUN_USER):
    """Writes a user's script under home (created, owned by the run-as
    user so lmtpd can write the .log beside it)."""
    pw = pwd.getpwnam(run_as)
    os.makedirs(home, exist_ok=True)
    path = os.path.join(home, name)
    with open(path, "w") as f:
        f.write(text)
    # Every folder from the mail root down belongs to the run-as user,
    # as lmtpd would have made it; a home outside a "mail" folder only
    # itself (walking up from one once gave /tmp to the run-as user).
    chain = [home]
    d = home
    while os.path.basename(os.path.dirname(d)) != "mail":
        parent = os.path.dirname(d)
        if parent == d:
            chain = [home]
            break
        d = parent
        chain.append(d)
    for d in chain:
        os.chown(d, pw.pw_uid, pw.pw_gid)
        os.chmod(d, 0o755)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    # A new mtime each write, even within the same second.
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, time.time_ns()))
    return path
