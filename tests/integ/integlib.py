"""Helpers for the integration tests: run the real lmtpd, talk raw LMTP to
it, and read back what it wrote (Maildir files, log lines).

Nothing here imports from outside the repository: the suite is
self-contained and runs with Debian's python3 and python3-pytest.
"""
import os
import re
import signal
import socket
import subprocess
import time

BUILDDIR = os.environ.get("LMTPD_BUILDDIR", "/work/main/_build")
LMTPD = os.path.join(BUILDDIR, "lmtpd", "lmtpd")
LMTPD_MAP = os.path.join(BUILDDIR, "lmtpd", "lmtpd-map")

# The system user lmtpd runs as (created by conftest when missing), so that
# Dovecot and Postfix can be pointed at what it wrote.
RUN_USER = "lmtpdtest"
HOSTNAME = "lmtpd.test"

# Log lines that must never appear outside the tests that provoke them.
CRASH_MARKERS = ("killed by signal", "panic:", "AddressSanitizer",
                 "LeakSanitizer", "runtime error:")


# ------------------------------------------------------------------ LMTP

class Reply:
    """One (possibly multi-line) reply: code, enhanced status, text lines."""

    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][:3])
        rest = lines[-1][4:]
        m = re.match(r"(\d\.\d{1,3}\.\d{1,3}) ", rest)
        self.enh = m.group(1) if m else None

    @property
    def line(self):
        return self.lines[-1]

    def __repr__(self):
        return "Reply(%r)" % "\\n".join(self.lines)


class ConnectionClosed(Exception):
    pass


class LmtpClient:
    """A raw-socket LMTP client that reads one reply per accepted recipient
    after DATA (smtplib.LMTP.sendmail reads only one)."""

    def __init__(self, path=None, host=None, port=None, timeout=20):
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = path
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            addr = (host, port)
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.buf = b""
        self.greeting = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed("connection closed; unread: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return Reply(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def at_eof(self, timeout=5):
        """True when the server closed the connection (after any unread
        replies are dropped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def connect_greeting(self):
        self.greeting = self.reply()
        return self.greeting

    def lhlo(self, name="client.example"):
        if self.greeting is None:
            g = self.connect_greeting()
            assert g.code == 220, g
        r = self.cmd("LHLO " + name)
        assert r.code == 250, r
        return r

    def transaction(self, sender, rcpts, message, mail_params="",
                    rcpt_params=None, pipelined=True, raw=False):
        """MAIL, RCPT..., DATA, message, then one reply per accepted
        recipient.  message is bytes with LF or CRLF line ends; unless raw,
        it is converted to CRLF and dot-stuffed, and ".\\r\\n" is added.
        Returns a Txn with mail, rcpts, data and finals."""
        t = Txn()
        if rcpt_params is None:
            rcpt_params = [""] * len(rcpts)
        cmds = [self._mail_line(sender, mail_params)]
        cmds += [self._rcpt_line(r, p) for r, p in zip(rcpts, rcpt_params)]
        cmds.append(b"DATA\r\n")
        if pipelined:
            self.send(b"".join(cmds))
            t.mail = self.reply()
            t.rcpts = self.replies(len(rcpts))
            t.data = self.reply()
        else:
            self.send(cmds[0])
            t.mail = self.reply()
            for c in cmds[1:-1]:
                self.send(c)
                t.rcpts.append(self.reply())
            self.send(cmds[-1])
            t.data = self.reply()
        if t.data.code != 354:
            return t
        self.send(message if raw else wire(message))
        t.finals = self.replies(sum(1 for r in t.rcpts if r.code // 100 == 2))
        return t

    def bdat_transaction(self, sender, rcpts, chunks, mail_params="",
                         pipelined=True):
        """MAIL, RCPT..., then one BDAT per chunk (the last with LAST).
        Returns a Txn; chunk replies in bdat, finals after the last."""
        t = Txn()
        head = [self._mail_line(sender, mail_params)]
        head += [self._rcpt_line(r, "") for r in rcpts]
        body = []
        for i, c in enumerate(chunks):
            last = " LAST" if i == len(chunks) - 1 else ""
            body.append(b"BDAT %d%s\r\n" % (len(c), last.encode()) + c)
        if pipelined:
            self.send(b"".join(head) + b"".join(body))
        else:
            self.send(b"".join(head))
        t.mail = self.reply()
        t.rcpts = self.replies(len(rcpts))
        ok = sum(1 for r in t.rcpts if r.code // 100 == 2)
        for i, c in enumerate(body):
            if not pipelined:
                self.send(c)
            if i < len(body) - 1:
                t.bdat.append(self.reply())
            elif ok:
                t.finals = self.replies(ok)
            else:
                t.bdat.append(self.reply())
        return t

    @staticmethod
    def _mail_line(sender, params):
        return ("MAIL FROM:<%s>%s\r\n" % (sender, " " + params if params else "")).encode()

    @staticmethod
    def _rcpt_line(rcpt, params):
        return ("RCPT TO:<%s>%s\r\n" % (rcpt, " " + params if params else "")).encode()

    def quit(self):
        try:
            r = self.cmd("QUIT")
        finally:
            self.close()
        return r


class Txn:
    def __init__(self):
        self.mail = None
        self.rcpts = []
        self.data = None
        self.bdat = []
        self.finals = []

    @property
    def queue_id(self):
        for r in self.finals + self.rcpts:
            m = re.search(r"> ([0-9A-F]{8,}) ", r.line)
            if m:
                return m.group(1)
        return None

    def final_codes(self):
        return [r.code for r in self.finals]


def wire(message):
    """LF or CRLF message -> CRLF lines, dot-stuffed, with the final dot."""
    if isinstance(message, str):
        message = message.encode()
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = [b"." + l if l.startswith(b".") else l for l in lines]
    return b"\r\n".join(out) + b"\r\n.\r\n"


def make_message(subject="test", body="Hello.\n", extra_headers=(),
                 sender="sender@example.org", to="rcpt@example.com"):
    """A small RFC 5322 message with LF line ends, as bytes."""
    h = ["From: <%s>" % sender, "To: <%s>" % to, "Subject: %s" % subject,
         "Message-ID: <%s.%d@client.example>" % (re.sub(r"\W", "", subject) or "m",
                                                  time.monotonic_ns()),
         "Date: Thu, 01 Jan 2026 00:00:00 +0000"]
    h += list(extra_headers)
    text = "\n".join(h) + "\n\n"
    out = text.encode()
    return out + (body if isinstance(body, bytes) else body.encode())


# --------------------------------------------------------------- Maildir

TRACE_HEADERS = (b"Return-Path:", b"X-Original-To:", b"Delivered-To:", b"Received:")


def split_trace(data):
    """Splits a delivered file into (trace headers lmtpd prepended as a
    list of unfolded lines, the rest of the file)."""
    trace = []
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line = data[pos:nl]
        if trace and line[:1] in (b" ", b"\t"):
            trace[-1] += b"\n" + line
        elif line.startswith(TRACE_HEADERS) and (
                not trace or not line.startswith(b"Return-Path:")):
            trace.append(line)
        else:
            break
        pos = nl + 1
        # Received: is the last one lmtpd writes; stop after its fold.
        if trace[-1].startswith(b"Received:"):
            nxt = data.find(b"\n", pos)
            while nxt >= 0 and data[pos:pos + 1] in (b" ", b"\t"):
                trace[-1] += b"\n" + data[pos:nxt]
                pos = nxt + 1
                nxt = data.find(b"\n", pos)
            break
    return trace, data[pos:]


def trace_dict(trace):
    d = {}
    for t in trace:
        name, _, value = t.partition(b":")
        d[name.decode()] = value.strip().decode("utf-8", "replace")
    return d


def listdir(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def maildir_new(maildir):
    return [os.path.join(maildir, "new", f) for f in listdir(os.path.join(maildir, "new"))]


def read_new(maildir):
    """Contents of every file in maildir/new, in name order."""
    out = []
    for p in maildir_new(maildir):
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def all_files(root):
    """Every non-directory under root, as paths relative to it."""
    out = []
    for d, dirs, files in os.walk(root):
        for f in files:
            out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def stray_files(root):
    """Files under root that are neither a delivered message in
    .../Maildir/new/ nor a temporary in .../tmp/ (where a crash may
    legitimately leave one)."""
    bad = []
    for rel in all_files(root):
        parts = rel.split(os.sep)
        if len(parts) >= 2 and parts[-2] in ("new", "tmp"):
            continue
        bad.append(rel)
    return bad


def check_maildir_names(maildir):
    """Every name in new/ carries ,S=<size> and the file has that size."""
    for p in maildir_new(maildir):
        m = re.search(r",S=(\d+)", os.path.basename(p))
        assert m, p
        assert os.path.getsize(p) == int(m.group(1)), p


# ------------------------------------------------------------------- log

DELIVERY_RE = re.compile(
    r"^lmtpd\[(?P<pid>\d+)\]: (?P<qid>[0-9A-F]+): to=<(?P<to>[^>]*)>"
    r"(?:, orig_to=<(?P<orig_to>[^>]*)>)?(?:, folder=(?P<folder>.+?))?"
    r"(?:, score=(?P<score>[^,]+), tests=(?P<tests>.*?))?"
    r", delay=(?P<delay>[0-9.]+), delays=(?P<delays>[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+)"
    r", dsn=(?P<dsn>\d\.\d+\.\d+), status=(?P<status>\w+) \((?P<text>.*)\)$")
MESSAGE_RE = re.compile(
    r"^lmtpd\[(?P<pid>\d+)\]: (?P<qid>[0-9A-F]+): from=<(?P<from>[^>]*)>, "
    r"size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+)(?:, msgid=(?P<msgid>.*))?$")


def deliveries(log, qid=None):
    out = []
    for line in log.splitlines():
        m = DELIVERY_RE.match(line)
        if m and (qid is None or m.group("qid") == qid):
            out.append(m.groupdict())
    return out


def messages(log, qid=None):
    out = []
    for line in log.splitlines():
        m = MESSAGE_RE.match(line)
        if m and (qid is None or m.group("qid") == qid):
            out.append(m.groupdict())
    return out


# ----------------------------------------------------------------- lmtpd

_known_keys = None


def known_keys():
    """The config keys this lmtpd knows (from `lmtpd -n`)."""
    global _known_keys
    if _known_keys is None:
        r = subprocess.run([LMTPD, "-n"], capture_output=True, text=True, timeout=30)
        _known_keys = {l.split(" =")[0] for l in r.stdout.splitlines() if " =" in l}
    return _known_keys


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def children_of(pid):
    """PIDs whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces; fields follow the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(d))
    return out


def alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def wait_for(pred, timeout=10, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class Lmtpd:
    """One lmtpd instance in its own folder: config, UNIX socket, mail
    root, state_dir and stderr log.  start() runs `lmtpd -f -c CONF` in a
    process group of its own; stop()/kill() end every process it started,
    including workers orphaned by a killed master."""

    def __init__(self, workdir, run_as=RUN_USER, **conf):
        self.dir = workdir
        self.sock = os.path.join(workdir, "lmtp.sock")
        self.mail = os.path.join(workdir, "mail")
        self.state = os.path.join(workdir, "state")
        self.conf_path = os.path.join(workdir, "lmtpd.conf")
        self.log_path = os.path.join(workdir, "lmtpd.log")
        self.run_as = run_as
        self.preexec = None     # run in the child before lmtpd starts
        self.proc = None
        self.pgids = []
        self.tcp_port = None
        for d in (self.mail, self.state):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
            if run_as is not None:
                import pwd
                pw = pwd.getpwnam(run_as)
                os.chown(d, pw.pw_uid, pw.pw_gid)
        self.conf = {
            "listen": "unix:" + self.sock,
            "listen_mode": "0666",
            "workers": "4",
            "home": self.mail + "/%d/%n",
            "state_dir": self.state,
            "hostname": HOSTNAME,
            "idle_timeout": "30s",
        }
        if run_as is not None:
            self.conf["user"] = run_as
        # These tests are about delivery: no scoring, so no X-Spam-*
        # headers between the trace headers and the message.
        if "rules_dir" in known_keys():
            self.conf["rules_dir"] = ""
        self.conf.update(conf)
        self.write_config()

    # -- config
    def write_config(self, **changes):
        for k, v in changes.items():
            if v is None:
                self.conf.pop(k, None)
            else:
                self.conf[k] = v
        with open(self.conf_path, "w") as f:
            f.write("# written by tests/integ\n")
            for k, v in self.conf.items():
                f.write("%s = %s\n" % (k, v))

    def listen_tcp(self, allow_from=None):
        self.tcp_port = free_port()
        self.conf["listen"] = "unix:%s, 127.0.0.1:%d" % (self.sock, self.tcp_port)
        if allow_from is not None:
            self.conf["allow_from"] = allow_from
        self.write_config()

    # -- process
    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([LMTPD, "-f", "-c", self.conf_path],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, start_new_session=True,
                                     preexec_fn=self.preexec)
        self.logf.close()
        self.pgids.append(self.proc.pid)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("lmtpd exited with %s:\n%s" %
                                     (self.proc.returncode, self.log()))
            try:
                with LmtpClient(self.sock, timeout=5) as c:
                    g = c.connect_greeting()
                    if g.code == 220:
                        c.cmd("QUIT")
                        return
            except (OSError, ConnectionClosed) as e:
                last = e
            time.sleep(0.02)
        raise AssertionError("lmtpd did not answer on %s: %s\n%s" %
                             (self.sock, last, self.log()))

    def wait_listening(self, timeout=15):
        """Until the UNIX socket accepts connections (the backlog takes
        them even while every worker is busy)."""
        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("lmtpd exited with %s:\n%s" %
                                     (self.proc.returncode, self.log()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.sock)
                return True
            except OSError:
                return False
            finally:
                s.close()
        wait_for(listening, timeout, what="lmtpd listening on %s" % self.sock)

    @property
    def pid(self):
        return self.proc.pid

    def workers(self):
        return children_of(self.proc.pid)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=15):
        """SIGTERM, wait for a clean exit; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("lmtpd did not stop within %ss" % timeout)

    def kill(self):
        """SIGKILL every process group this instance ever started."""
        for pg in self.pgids:
            try:
                os.killpg(pg, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def group_alive(self):
        alive = []
        for pg in self.pgids:
            try:
                os.killpg(pg, 0)
                alive.append(pg)
            except ProcessLookupError:
                pass
        return alive

    # -- log
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, offset):
        return self.log()[offset:] if offset else self.log()

    def wait_log(self, pattern, timeout=10, since=0, count=1):
        rx = re.compile(pattern, re.M)

        def found():
            text = self.log_since(since)
            hits = rx.findall(text)
            return hits if len(hits) >= count else None
        return wait_for(found, timeout, what="log /%s/ x%d in\n%s" %
                        (pattern, count, self.log()[-3000:]))

    # -- clients and mail
    def client(self, timeout=20):
        return LmtpClient(self.sock, timeout=timeout)

    def tcp_client(self, timeout=20):
        return LmtpClient(host="127.0.0.1", port=self.tcp_port, timeout=timeout)

    def maildir(self, addr):
        """Maildir of addr under the default home template (lowercased,
        detail stripped, as lmtpd resolves it)."""
        local, _, domain = addr.rpartition("@")
        local = local.lower()
        for i, ch in enumerate(local):
            if ch in self.conf.get("recipient_delimiter", "+"):
                local = local[:i]
                break
        return os.path.join(self.mail, domain.lower(), local, "Maildir")

    def deliver(self, rcpts, message, sender="sender@example.org", **kw):
        """One transaction on a fresh connection; returns the Txn."""
        with self.client() as c:
            c.lhlo()
            t = c.transaction(sender, rcpts, message, **kw)
            c.quit()
        return t
