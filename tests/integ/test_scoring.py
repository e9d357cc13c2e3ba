"""Spam scoring through the real daemon (issue 3), with Debian's
SpamAssassin rule files plus a local rule: the X-Spam-* headers and
where they go, inbound X-Spam-* removed, one score per recipient from
each user's spam_prefs (required_score, score, welcomelist/blocklist and
the _rcvd form against the Received chain), X-Spam-Report, the
delivery log's score= and tests=, and a user's score for a rule the site
scored 0, compared with spamd."""
import os
import time
import re
import subprocess

import pytest

import integlib
import saparity
from integlib import deliveries, read_new
from sieve_helpers import write_script

SA_RULES = saparity.SA_RULES

MESSAGE = b"""Received: from mail.example.org (mail.example.org [81.2.69.160])
\tby mx.example.com (Postfix) with ESMTPS id 4AB12C0011
\tfor <alice@example.com>; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)
From: Friend <friend@example.org>
To: alice@example.com
Subject: Our meeting notes
Date: Sun, 22 Nov 2026 09:59:58 +0000
Message-ID: <notes-%(n)s@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
X-Spam-Flag: NO
X-Spam-Status: No, score=-50.0 required=5.0 tests=FORGED_BY_SENDER

Hello Alice,

here are the notes from Thursday. The supplier says we should buy now
before the prices change next quarter; I think we can wait a month.

Regards,
Friend
"""


def message(n, relay=None):
    m = MESSAGE % {b"n": str(n).encode()}
    if relay is not None:
        m = m.replace(b"from mail.example.org (mail.example.org [81.2.69.160])", relay)
    return m


def unfolded_headers(data):
    head = data.split(b"\n\n", 1)[0].decode()
    return re.sub(r"\n[ \t]+", " ", head).split("\n")


def spam_fields(data):
    """[(name, value)] of the X-Spam-* fields, in file order."""
    out = []
    for line in unfolded_headers(data):
        name, _, value = line.partition(":")
        if name.lower().startswith("x-spam-"):
            out.append((name, value.strip()))
    return out


def raw_field(data, name):
    """The field as written, folds included."""
    m = re.search(rb"^" + name.encode() + rb":.*\n(?:[ \t].*\n)*",
                  data.split(b"\n\n", 1)[0] + b"\n", re.M)
    return m.group(0) if m else None


def status(data):
    [v] = [v for n, v in spam_fields(data) if n == "X-Spam-Status"]
    # The tests list is folded after a comma.
    m = re.match(r"(Yes|No), score=(-?[\d.]+) required=([\d.]+) tests=(.+?) "
                 r"autolearn=\w+ version=\S+$", v)
    assert m, v
    return (m.group(1), float(m.group(2)), float(m.group(3)),
            re.split(r",\s*", m.group(4)))


def home(d, addr):
    local, _, domain = addr.partition("@")
    return os.path.join(d.mail, domain, local)


def write_prefs(d, addr, text):
    """The user's prefs file; the home is the run-as user's, as lmtpd would
    have made it, and the prefs file may stay root's (lmtpd only reads it)."""
    h = home(d, addr)
    write_script(h, "keep;\n")
    os.unlink(os.path.join(h, ".dovecot.sieve"))
    p = os.path.join(h, ".spamassassin")
    os.makedirs(p, exist_ok=True)
    with open(os.path.join(p, "user_prefs"), "w") as f:
        f.write(text)


@pytest.fixture
def scoring_lmtpd(lmtpd_factory, workdir):
    if not os.path.isfile(os.path.join(SA_RULES, "50_scores.cf")):
        pytest.skip("SpamAssassin's rules are not installed (package spamassassin)")
    local = os.path.join(workdir, "rules")
    os.makedirs(local)
    with open(os.path.join(local, "local.cf"), "w") as f:
        f.write("body LOCAL_BUY_NOW /\\bbuy now\\b/i\n"
                "describe LOCAL_BUY_NOW Says buy now\n"
                "score LOCAL_BUY_NOW 4.0\n")
    os.chmod(local, 0o755)
    return lmtpd_factory(rules_dir="%s, %s" % (SA_RULES, local), spam_report="yes")


PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def deny_write_execute():
    """In the child before exec: no memory may become executable, as under
    systemd's MemoryDenyWriteExecute=yes (Linux 6.3 and later keep it
    across exec)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, ctypes.c_ulong(PR_MDWE_REFUSE_EXEC_GAIN),
                  ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        os._exit(97)


def mdwe_supported():
    pid = os.fork()
    if pid == 0:
        deny_write_execute()
        os._exit(0)
    return os.waitpid(pid, 0)[1] == 0


def test_rules_without_jit(lmtpd_factory, workdir):
    """Where no memory may be made executable, PCRE2's JIT can not run:
    the daemon says so in its log at start and scores every message as it
    does with the JIT (the interpreter runs the same patterns, the
    Content-Type parameters are found by hand either way)."""
    if not os.path.isfile(os.path.join(SA_RULES, "50_scores.cf")):
        pytest.skip("SpamAssassin's rules are not installed (package spamassassin)")
    if not mdwe_supported():
        pytest.skip("the kernel has no PR_SET_MDWE (Linux 6.3 and later)")
    jit = lmtpd_factory(rules_dir=SA_RULES)
    nojit = lmtpd_factory(name="nojit", start=False, rules_dir=SA_RULES)
    nojit.preexec = deny_write_execute
    nojit.start()
    nojit.wait_log(r"rules: PCRE2's JIT refused (\d+) of \1 patterns: they run in its "
                   r"interpreter")
    assert "JIT refused" not in jit.log()
    msgs = [message(1), message(2, relay=b"from [203.0.113.9] (unknown [203.0.113.9])"),
            MESSAGE_MULTIPART]
    for d in (jit, nojit):
        for i, m in enumerate(msgs):
            assert d.deliver(["alice@example.com"], m).final_codes() == [250], i
    got = {}
    for d in (jit, nojit):
        files = sorted(integlib.maildir_new(d.maildir("alice@example.com")),
                       key=lambda f: open(f, "rb").read().split(b"Message-ID: ")[1][:40])
        got[d] = [spam_fields(open(f, "rb").read()) for f in files]
    assert len(got[jit]) == len(msgs) and got[jit] == got[nojit]


MESSAGE_MULTIPART = b"""From: Deals <deals@shop.example>
To: alice@example.com
Subject: =?utf-8?B?QlVZIE5PVyEhIQ==?=
Message-ID: <multi-1@shop.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset="utf-8"; format=flowed

CLICK HERE to buy now: http://shop.example/deal?id=1 100% FREE!!!
--b1
Content-Type: text/html; charset=iso-8859-1

<html><body><a href="http://shop.example/deal?id=1">CLICK HERE</a> <b>FREE</b></body></html>
--b1--
"""


def test_per_recipient_scores_and_headers(scoring_lmtpd):
    d = scoring_lmtpd
    users = {
        "dave@example.com": None,
        "erin@example.com": "required_score 3.0\n",
        "alice@example.com": "# a comment\nwelcomelist_from friend@example.org\n",
        "bob@example.com": "blocklist_from *@example.org\n",
        "carol@example.com": "welcomelist_from_rcvd friend@example.org example.org\n",
        "frank@example.com": "score LOCAL_BUY_NOW 0.5\nrequired_score 0.4\n"
                             "body MY_RULE /notes/\n",
    }
    for addr, prefs in users.items():
        if prefs is not None:
            write_prefs(d, addr, prefs)
    rcpts = list(users)
    t = d.deliver(rcpts, message(1))
    assert t.final_codes() == [250] * len(rcpts)

    got = {}
    for addr in rcpts:
        [f] = [x for x in os.listdir(os.path.join(d.maildir(addr), "new"))]
        with open(os.path.join(d.maildir(addr), "new", f), "rb") as fh:
            data = fh.read()
        got[addr] = data
        fields = spam_fields(data)
        names = [n for n, _ in fields]
        # lmtpd's own fields only: the inbound X-Spam-Flag/Status are gone.
        assert "FORGED_BY_SENDER" not in data.decode()
        assert names[0] == "X-Spam-Checker-Version"
        assert names.count("X-Spam-Status") == 1
        # Right after the trace headers, before the message's own.
        heads = unfolded_headers(data)
        assert heads[0].startswith("Return-Path:")
        first_spam = min(i for i, h in enumerate(heads) if h.startswith("X-Spam-"))
        assert all(h.split(":")[0].startswith("X-Spam-") for h in heads[first_spam:first_spam + len(fields)])
        assert heads.index("From: Friend <friend@example.org>") > first_spam
        # The body is untouched.
        assert data.endswith(message(1).split(b"\n\n", 1)[1])

    flag, score, required, tests = status(got["dave@example.com"])
    assert (flag, score, required, tests) == ("No", 4.0, 5.0, ["LOCAL_BUY_NOW"])
    fields = dict(spam_fields(got["dave@example.com"]))
    assert "X-Spam-Flag" not in fields
    assert fields["X-Spam-Level"] == "****" and fields["X-Spam-Score"] == "4"
    # SpamAssassin's _REPORT_, as report_safe 0 writes it: each hit on a
    # folded line, its points (the user's), name, area and description.
    assert raw_field(got["dave@example.com"], "X-Spam-Report") == (
        b"X-Spam-Report: \n\t*  4.0 LOCAL_BUY_NOW BODY: Says buy now\n")
    assert raw_field(got["frank@example.com"], "X-Spam-Report") == (
        b"X-Spam-Report: \n\t*  0.5 LOCAL_BUY_NOW BODY: Says buy now\n")
    # (60_welcomelist.cf scores USER_IN_WELCOMELIST -100; its deprecated
    # meta USER_IN_WHITELIST is not defined, as SpamAssassin's init.pre
    # says enable_compat welcomelist_blocklist)
    assert raw_field(got["alice@example.com"], "X-Spam-Report") == (
        b"X-Spam-Report: \n\t*  4.0 LOCAL_BUY_NOW BODY: Says buy now\n"
        b"\t* -100 USER_IN_WELCOMELIST User is listed in 'welcomelist_from'\n")

    flag, score, required, tests = status(got["erin@example.com"])
    assert (flag, score, required) == ("Yes", 4.0, 3.0)
    assert dict(spam_fields(got["erin@example.com"]))["X-Spam-Flag"] == "YES"

    flag, score, _, tests = status(got["alice@example.com"])
    assert flag == "No" and score < -90 and "USER_IN_WELCOMELIST" in tests
    assert dict(spam_fields(got["alice@example.com"]))["X-Spam-Score"] == "0"

    flag, score, _, tests = status(got["bob@example.com"])
    assert flag == "Yes" and score > 100 and "USER_IN_BLOCKLIST" in tests
    assert dict(spam_fields(got["bob@example.com"]))["X-Spam-Level"] == "*" * 50

    flag, score, _, tests = status(got["carol@example.com"])
    assert flag == "No" and "USER_IN_WELCOMELIST" in tests

    # A user's score line, not a user's rule.
    flag, score, required, tests = status(got["frank@example.com"])
    assert (flag, score, required, tests) == ("Yes", 0.5, 0.4, ["LOCAL_BUY_NOW"])
    log = d.log()
    assert re.search(r"warning: user preferences: \S*/example\.com/frank/\.spamassassin/"
                     r"user_prefs:3: 'body' is not allowed in user preferences", log), log

    # The log line per recipient carries the same result.
    lines = {x["to"]: x for x in deliveries(log, t.queue_id)}
    line = re.search(r"to=<dave@example\.com>.*", log).group(0)
    assert ", score=4.0/5.0, tests=LOCAL_BUY_NOW, delay=" in line, line
    assert "score=0.5/0.4" in re.search(r"to=<frank@example\.com>.*", log).group(0)
    assert set(lines) == set(rcpts)

    # welcomelist_from_rcvd needs the relay too: the same From: through
    # another host is not welcomelisted.
    forged = message(2, relay=b"from mail.example.org (mx.evil.test [85.10.20.30])")
    t = d.deliver(["carol@example.com"], forged)
    assert t.final_codes() == [250]
    newest = max(os.listdir(os.path.join(d.maildir("carol@example.com"), "new")),
                 key=lambda f: os.stat(os.path.join(d.maildir("carol@example.com"),
                                                    "new", f)).st_mtime_ns)
    with open(os.path.join(d.maildir("carol@example.com"), "new", newest), "rb") as fh:
        flag, score, _, tests = status(fh.read())
    assert "USER_IN_WELCOMELIST" not in tests and score == 4.0


@pytest.mark.fast
def test_missing_rules_folder_is_logged(lmtpd_factory, workdir):
    """A rules_dir folder that does not exist is a warning in the log (a
    site without the spamassassin package scored every message 0 and
    said nothing); the other folders still load.  So are a rewrite_header
    and an add_header line, which an admin's local.cf often has and lmtpd
    does not follow: the Subject is delivered as it came, with no
    X-Spam-Report."""
    rules = os.path.join(workdir, "rules-present")
    os.makedirs(rules)
    with open(os.path.join(rules, "50_t.cf"), "w") as f:
        f.write("header LOCAL_SUBJ Subject =~ /hello/\nscore LOCAL_SUBJ 9.5\n"
                "rewrite_header Subject *****SPAM*****\n"
                "add_header all Report _REPORT_\n")
    os.chmod(rules, 0o755)
    missing = os.path.join(workdir, "no-such-rules")
    d = lmtpd_factory(rules_dir="%s, %s" % (missing, rules))
    d.wait_log(r"warning: rules: %s: rules folder missing: No such file or directory$"
               % re.escape(missing))
    d.wait_log(r"warning: rules: %s:3: rewrite_header is ignored: lmtpd does not change "
               r"the messages it delivers; filter on X-Spam-Flag" % re.escape(f.name))
    d.wait_log(r"warning: rules: %s:4: add_header all Report is ignored: lmtpd writes "
               r"X-Spam-Flag, .* and X-Spam-Report with spam_report in lmtpd.conf$"
               % re.escape(f.name))
    msg = b"From: a@example.org\nTo: b@example.com\nSubject: hello\n\nbody\n"
    assert d.deliver(["b@example.com"], msg).final_codes() == [250]
    d.wait_log(r"to=<b@example\.com>.* tests=LOCAL_SUBJ")
    [data] = read_new(d.maildir("b@example.com"))
    assert b"\nSubject: hello\n" in data and b"X-Spam-Flag: YES" in data
    assert b"X-Spam-Report" not in data


def test_every_inbound_spam_field_removed(lmtpd_factory, workdir):
    """However many X-Spam-* fields a sender adds, interleaved with others,
    none is scored or delivered (a cap on the pieces cut out once let
    them all through): the copy has lmtpd's own fields and every other
    field in order; lmtpd-score's stdin mode does the same."""
    rules = os.path.join(workdir, "rules-inbound")
    os.makedirs(rules)
    with open(os.path.join(rules, "50_t.cf"), "w") as f:
        f.write("required_score 5\n"
                "header FORGED_SEEN X-Spam-Status =~ /forged/\n"
                "score FORGED_SEEN 3.0\n")
    os.chmod(rules, 0o755)
    d = lmtpd_factory(rules_dir=rules)
    head = b"".join(b"X-Spam-Status: Yes, score=99 forged %d\nX-Other-%d: kept\n" % (i, i)
                    for i in range(200))
    msg = (b"From: a@example.org\nTo: b@example.com\nSubject: many\n" + head +
           b"X-Spam-Flag: YES\n\tfolded forged\n\nbody\n")
    assert d.deliver(["b@example.com"], msg).final_codes() == [250]
    [f] = os.listdir(os.path.join(d.maildir("b@example.com"), "new"))
    with open(os.path.join(d.maildir("b@example.com"), "new", f), "rb") as fh:
        data = fh.read()
    assert b"forged" not in data, data[:2000]
    names = [n for n, _ in spam_fields(data)]
    assert names.count("X-Spam-Status") == 1 and "X-Spam-Flag" not in names
    heads = unfolded_headers(data)
    assert [h for h in heads if h.startswith("X-Other-")] == [
        "X-Other-%d: kept" % i for i in range(200)]
    assert data.endswith(b"\n\nbody\n")
    flag, score, required, tests = status(data)
    assert (flag, tests) == ("No", ["none"]), status(data)

    score_bin = os.path.join(os.environ.get("LMTPD_BUILDDIR", "/work/main/_build"),
                             "scoring", "lmtpd-score")
    r = subprocess.run([score_bin, "--rules", rules], input=msg, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"forged" not in r.stdout and r.stdout.count(b"X-Other-") == 200


def test_prefs_not_a_regular_file(lmtpd_factory, workdir):
    """A user's spam_prefs that is a FIFO (nobody ever writes to it) or a
    folder is ignored with a warning: the site's scores apply and the
    message is delivered (a FIFO once held the worker in open() for
    good); a symlink to a regular file is read as that file."""
    rules = os.path.join(workdir, "rules-fifo")
    os.makedirs(rules)
    with open(os.path.join(rules, "50_t.cf"), "w") as f:
        f.write("required_score 5\nbody T_BUY_NOW /buy now/i\nscore T_BUY_NOW 3.0\n")
    os.chmod(rules, 0o755)
    d = lmtpd_factory(rules_dir=rules)
    for user in ("fifo", "dir", "link"):
        write_prefs(d, user + "@example.com", "required_score 2\n")
    fifo = os.path.join(home(d, "fifo@example.com"), ".spamassassin", "user_prefs")
    os.unlink(fifo)
    os.mkfifo(fifo)
    folder = os.path.join(home(d, "dir@example.com"), ".spamassassin", "user_prefs")
    os.unlink(folder)
    os.mkdir(folder)
    link = os.path.join(home(d, "link@example.com"), ".spamassassin", "user_prefs")
    os.rename(link, link + ".real")
    os.symlink("user_prefs.real", link)
    rcpts = ["fifo@example.com", "dir@example.com", "link@example.com"]
    t = d.deliver(rcpts, b"Subject: offer\n\nbuy now\n")
    assert t.final_codes() == [250, 250, 250]
    got = {}
    for r in rcpts:
        new = os.path.join(d.maildir(r), "new")
        [f] = os.listdir(new)
        with open(os.path.join(new, f), "rb") as fh:
            got[r] = status(fh.read())[:3]
    assert got == {"fifo@example.com": ("No", 3.0, 5.0),
                   "dir@example.com": ("No", 3.0, 5.0),
                   "link@example.com": ("Yes", 3.0, 2.0)}, got
    log = d.log()
    for path in (fifo, folder):
        assert "%s:0: not a regular file; ignored" % path in log, log


def test_prefs_read_once_per_change(lmtpd_factory, workdir):
    """A user's prefs are parsed once per worker and change of the file,
    not at every delivery (a hostile file within the caps cost up to a
    minute per recipient): its warning is logged once for two deliveries
    through one worker, and an edit is seen at the next delivery."""
    rules = os.path.join(workdir, "rules-once")
    os.makedirs(rules)
    with open(os.path.join(rules, "50_t.cf"), "w") as f:
        f.write("required_score 5\nbody T_BUY_NOW /buy now/i\nscore T_BUY_NOW 3.0\n")
    os.chmod(rules, 0o755)
    d = lmtpd_factory(rules_dir=rules, workers="1")
    rcpt = "once@example.com"
    write_prefs(d, rcpt, "bogus_key 1\nrequired_score 2\n")
    for _ in range(2):
        assert d.deliver([rcpt], b"Subject: offer\n\nbuy now\n").final_codes() == [250]
    assert d.log().count("'bogus_key' is not allowed") == 1, d.log()
    path = os.path.join(home(d, rcpt), ".spamassassin", "user_prefs")
    with open(path, "w") as f:
        f.write("required_score 4\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert d.deliver([rcpt], b"Subject: offer\n\nbuy now\n").final_codes() == [250]
    new = os.path.join(d.maildir(rcpt), "new")
    required = sorted(status(open(os.path.join(new, f), "rb").read())[2] for f in os.listdir(new))
    assert required == [2.0, 2.0, 4.0], required


SITE_ZERO_CF = r"""
body LOCAL_ZB /zeroword/
describe LOCAL_ZB zero body
score LOCAL_ZB 0
header LOCAL_ZH Subject =~ /zeroword/
score LOCAL_ZH 0
uri LOCAL_ZU /zero\.example\.com/
score LOCAL_ZU 0
rawbody LOCAL_ZR /zeroword/
score LOCAL_ZR 0
full LOCAL_ZF /zeroword/
score LOCAL_ZF 0
body LOCAL_ZMULTI /zeroword/
tflags LOCAL_ZMULTI multiple
score LOCAL_ZMULTI 0
meta LOCAL_ZMETA LOCAL_ZB && LOCAL_ZH
score LOCAL_ZMETA 0
body __LOCAL_ZSUB /zeroword/
meta LOCAL_ZMETA2 __LOCAL_ZSUB
score LOCAL_ZMETA2 0
mimeheader LOCAL_ZM Content-Type =~ /text/
score LOCAL_ZM 0
header LOCAL_ZE eval:check_freemail_from()
score LOCAL_ZE 0
body LOCAL_ZBE eval:check_body_length('5000')
score LOCAL_ZBE 0
"""

SITE_ZERO_PREFS = {
    # every kind; spamd runs the regex rules and metas, not the evals
    # (LOCAL_ZE, LOCAL_ZBE) nor the mimeheader rule (LOCAL_ZM)
    "alice": "score LOCAL_ZB 1.1\nscore LOCAL_ZH 1.2\nscore LOCAL_ZU 1.3\n"
             "score LOCAL_ZR 1.4\nscore LOCAL_ZF 1.5\nscore LOCAL_ZM 1.6\n"
             "score LOCAL_ZE 1.7\nscore LOCAL_ZMETA2 1.8\nscore LOCAL_ZBE 1.9\n"
             "score LOCAL_ZMULTI 0.1\n",
    # a meta over rules this user leaves at 0: they do not run
    "bob": "score LOCAL_ZMETA 2.0\n",
    "carol": None,
    # four scores; the meta's second rule stays off
    "dave": "score LOCAL_ZB 1 1 1 1\nscore LOCAL_ZMETA 2.0\n",
}

SITE_ZERO_MSG = b"""From: someone@gmail.com
To: team@example.com
Subject: zeroword here
Date: Thu, 01 Jan 2026 00:00:00 +0000
Message-ID: <z1@example.org>
Content-Type: text/plain

zeroword and zeroword again http://zero.example.com/x
"""


def deliver_to_users(d, prefs_by_user, message):
    """Writes each user's prefs (None: no file), delivers message to them
    all at example.com in one transaction, and returns {user: (score,
    tests)} of each copy's X-Spam-Status."""
    for user, prefs in prefs_by_user.items():
        if prefs is not None:
            write_prefs(d, user + "@example.com", prefs)
    rcpts = [u + "@example.com" for u in prefs_by_user]
    t = d.deliver(rcpts, message)
    assert t.final_codes() == [250] * len(rcpts)
    ours = {}
    for user in prefs_by_user:
        new = os.path.join(d.maildir(user + "@example.com"), "new")
        [f] = os.listdir(new)
        with open(os.path.join(new, f), "rb") as fh:
            _, score, _, tests = status(fh.read())
        ours[user] = (score, {x for x in tests if x != "none"})
    return ours


def spamd_results(vcd, rules, prefs_by_user, message):
    """{user: (score, tests)} of a private spamd given the rule folder and
    each user's prefs (None: no file) in vcd (--virtual-config-dir), for
    message with the Return-Path the deliveries get; skips without
    spamd."""
    saparity.require_spamd()
    from sa_parity import Spamd  # tests/tools, on sys.path through saparity
    os.makedirs(vcd)
    for user, prefs in prefs_by_user.items():
        os.makedirs(os.path.join(vcd, user))
        if prefs is not None:
            with open(os.path.join(vcd, user, "user_prefs"), "w") as f:
                f.write(prefs)
    subprocess.run(["chmod", "-R", "a+rwX", vcd], check=True)
    spamd = Spamd(rules, children=1, subtests=False,
                  args=["--virtual-config-dir=" + os.path.join(vcd, "%u")])
    try:
        theirs = {}
        for user in prefs_by_user:
            theirs[user] = spamd.check(b"Return-Path: <sender@example.org>\n" + message,
                                       want_score=True, user=user)
    finally:
        spamd.stop()
    return theirs


def test_user_score_enables_site_zero_rule(lmtpd_factory, workdir):
    """A user_prefs "score RULE n" for a rule the site scored 0 makes it
    count for that user, as under spamd: header, body, rawbody, full, uri
    and meta rules; not eval or mimeheader rules (spamd compiles those with
    the site scores before it forks).  Other recipients of the same
    message keep the site's result.  With spamd installed, a private spamd
    given the same rule files and the same prefs (--virtual-config-dir)
    gives each user the same score and tests."""
    rules = saparity.copy_sa_rules(os.path.join(workdir, "rules-zero"), SITE_ZERO_CF)
    d = lmtpd_factory(rules_dir=rules)
    ours = deliver_to_users(d, SITE_ZERO_PREFS, SITE_ZERO_MSG)
    local = {u: sorted(x for x in t if x.startswith("LOCAL_")) for u, (_, t) in ours.items()}
    assert local == {
        "alice": ["LOCAL_ZB", "LOCAL_ZF", "LOCAL_ZH", "LOCAL_ZMETA2", "LOCAL_ZMULTI",
                  "LOCAL_ZR", "LOCAL_ZU"],
        "bob": [],
        "carol": [],
        "dave": ["LOCAL_ZB"],
    }, local
    assert round(ours["alice"][0] - ours["carol"][0], 3) == round(
        1.1 + 1.2 + 1.3 + 1.4 + 1.5 + 1.8 + 3 * 0.1, 3)

    assert ours == spamd_results(os.path.join(workdir, "spamd-prefs"), rules,
                                 SITE_ZERO_PREFS, SITE_ZERO_MSG)



URI_HOST_CF = """enlist_uri_host (LOCAL_SHOPS) shop.example.org
header LOCAL_SHOP_LINK eval:check_uri_host_listed('LOCAL_SHOPS')
describe LOCAL_SHOP_LINK Links to a listed shop
score LOCAL_SHOP_LINK 1.5
"""

URI_HOST_PREFS = {
    "alice": "blocklist_uri_host Example.NET\n",
    "bob": "welcomelist_uri_host www.shop.example.org\n",
    # "!" on the more specific name wins over the site's entry
    "carol": "enlist_uri_host (LOCAL_SHOPS) !www.shop.example.org\n",
    "dave": "delist_uri_host shop.example.org\n",
    "erin": None,
}

URI_HOST_MSG = b"""From: someone@example.com
To: team@example.com
Subject: links
Date: Thu, 01 Jan 2026 00:00:00 +0000
Message-ID: <u1@example.com>
Content-Type: text/plain

see http://www.shop.example.org/sale and http://mail.example.net/x
"""


def test_user_uri_host_lists(lmtpd_factory, workdir):
    """WLBLEval's URI host lists: the site's enlist_uri_host list read by
    check_uri_host_listed, and each user's blocklist_uri_host,
    welcomelist_uri_host, enlist_uri_host and delist_uri_host lines in
    user_prefs (URI_HOST_IN_BLOCKLIST scores 100, URI_HOST_IN_WELCOMELIST
    -100), one message to all of them.  With spamd installed, a private
    spamd with the same rule files and prefs gives each user the same
    score and tests."""
    rules = saparity.copy_sa_rules(os.path.join(workdir, "rules-urihost"), URI_HOST_CF)
    d = lmtpd_factory(rules_dir=rules)
    ours = deliver_to_users(d, URI_HOST_PREFS, URI_HOST_MSG)
    listed = {u: sorted(x for x in t if x.startswith(("URI_HOST_", "LOCAL_")))
              for u, (_, t) in ours.items()}
    assert listed == {
        "alice": ["LOCAL_SHOP_LINK", "URI_HOST_IN_BLOCKLIST"],
        "bob": ["LOCAL_SHOP_LINK", "URI_HOST_IN_WELCOMELIST"],
        "carol": [],
        "dave": [],
        "erin": ["LOCAL_SHOP_LINK"],
    }, listed
    assert ours["alice"][0] > 100 and ours["bob"][0] < -90
    assert "warning" not in d.log(), d.log()

    assert ours == spamd_results(os.path.join(workdir, "spamd-prefs-urihost"), rules,
                                 URI_HOST_PREFS, URI_HOST_MSG)


LOCALES_PREFS = {
    "alice": "ok_locales en\n",
    "bob": "ok_locales en ru\n",
    "carol": None,
    "dave": "ok_locales ja\n",
}

# KOI8-R, its text mostly 8-bit, its From an encoded word
LOCALES_MSG = (b"From: =?koi8-r?B?8NLJ18XU?= <someone@example.ru>\n"
               b"To: team@example.com\n"
               b"Subject: =?koi8-r?B?8NLJ18XU?=\n"
               b"Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
               b"Message-ID: <l1@example.ru>\n"
               b"MIME-Version: 1.0\n"
               b"Content-Type: text/plain; charset=koi8-r\n"
               b"Content-Transfer-Encoding: 8bit\n\n"
               + b"\xf0\xd2\xc9\xd7\xc5\xd4, \xcb\xc1\xcb \xc4\xc5\xcc\xc1?\n" * 3)


def test_user_ok_locales(lmtpd_factory, workdir):
    """ok_locales in user_prefs, a user setting in SpamAssassin (the
    faraway-charset rules carry tflags userconf): a KOI8-R message to
    users whose locales leave Cyrillic out hits CHARSET_FARAWAY,
    CHARSET_FARAWAY_HEADER and MIME_CHARSET_FARAWAY (the site's default,
    "all", keeps them off for the others).  lmtpd refused the line.  With
    spamd installed, a private spamd with the same rule files and prefs
    gives each user the same score and tests."""
    rules = saparity.copy_sa_rules(os.path.join(workdir, "rules-locales"), "")
    d = lmtpd_factory(rules_dir=rules)
    ours = deliver_to_users(d, LOCALES_PREFS, LOCALES_MSG)
    faraway = {u: sorted(x for x in t if "FARAWAY" in x) for u, (_, t) in ours.items()}
    far = ["CHARSET_FARAWAY", "CHARSET_FARAWAY_HEADER", "MIME_CHARSET_FARAWAY"]
    assert faraway == {"alice": far, "bob": [], "carol": [], "dave": far}, faraway
    assert "warning" not in d.log(), d.log()

    assert ours == spamd_results(os.path.join(workdir, "spamd-prefs-locales"), rules,
                                 LOCALES_PREFS, LOCALES_MSG)


# A user's own rules: line 9 does not compile.
USER_RULES_PREFS = (
    "body USER_NOTES /\\bnotes from thursday\\b/i\n"
    "describe USER_NOTES Mentions the Thursday notes\n"
    "score USER_NOTES 2.5\n"
    "header USER_FRIEND From =~ /friend\\@example\\.org/\n"
    "score USER_FRIEND 0.7\n"
    "meta USER_BOTH USER_NOTES && USER_FRIEND && __HAS_MESSAGE_ID\n"
    "score USER_BOTH 1.1\n"
    "uri USER_NEVER /never\\.example/\n"
    "body USER_BROKEN /unclosed(/\n"
)


def test_user_rules_allowed(lmtpd_factory, workdir):
    """allow_user_rules 1 in the rule files: one message to two recipients,
    one whose user_prefs define rules (a body, a header and a uri rule and a
    meta over them and a site sub-rule), one without prefs.  The user's
    rules count only for that recipient, in X-Spam-Status, X-Spam-Report,
    the score and the log line; a rule that does not compile is logged
    with file:line and the rest still work.  One worker compiles the prefs
    once (the warning is logged once for two deliveries) and again when
    the file changes.  With spamd installed, a private spamd with the same
    rule files and prefs (--virtual-config-dir) gives both users the same
    score and tests."""
    rules = saparity.copy_sa_rules(os.path.join(workdir, "rules-user"),
                                   "allow_user_rules 1\n")
    d = lmtpd_factory(rules_dir=rules, spam_report="yes", workers="1")
    write_prefs(d, "alice@example.com", USER_RULES_PREFS)
    rcpts = ["alice@example.com", "carol@example.com"]
    t = d.deliver(rcpts, message(1))
    assert t.final_codes() == [250, 250]
    got = {}
    for addr in rcpts:
        new = os.path.join(d.maildir(addr), "new")
        [f] = os.listdir(new)
        with open(os.path.join(new, f), "rb") as fh:
            got[addr] = fh.read()
    _, a_score, _, a_tests = status(got["alice@example.com"])
    _, c_score, _, c_tests = status(got["carol@example.com"])
    mine = ["USER_BOTH", "USER_FRIEND", "USER_NOTES"]
    assert sorted(x for x in a_tests if x.startswith("USER_")) == mine, a_tests
    assert not [x for x in c_tests if x.startswith("USER_")], c_tests
    assert sorted(set(a_tests) - set(mine)) == sorted(set(c_tests) - {"none"})
    assert round(a_score - c_score, 3) == 4.3
    report = raw_field(got["alice@example.com"], "X-Spam-Report").decode()
    assert "*  2.5 USER_NOTES BODY: Mentions the Thursday notes\n" in report, report
    assert "*  1.1 USER_BOTH No description available.\n" in report, report
    assert "USER_" not in raw_field(got["carol@example.com"], "X-Spam-Report").decode()
    log = d.log()
    line = re.search(r"to=<alice@example\.com>.*", log).group(0)
    assert "score=%.1f/5.0" % a_score in line and "USER_BOTH,USER_FRIEND,USER_NOTES" in line
    assert "USER_" not in re.search(r"to=<carol@example\.com>.*", log).group(0)
    broken = (r"warning: user preferences: \S*/example\.com/alice/\.spamassassin/"
              r"user_prefs:9: body USER_BROKEN: invalid regexp")
    assert len(re.findall(broken, log)) == 1, log

    # The same worker, the same prefs file: not compiled again.
    t = d.deliver(["alice@example.com"], message(2))
    assert t.final_codes() == [250]
    assert len(re.findall(broken, d.log())) == 1
    # A changed file is read again.
    write_prefs(d, "alice@example.com",
                USER_RULES_PREFS.replace("score USER_NOTES 2.5", "score USER_NOTES 3.5"))
    t = d.deliver(["alice@example.com"], message(3))
    assert t.final_codes() == [250]
    assert len(re.findall(broken, d.log())) == 2
    new = os.path.join(d.maildir("alice@example.com"), "new")
    newest = max(os.listdir(new), key=lambda f: os.stat(os.path.join(new, f)).st_mtime_ns)
    with open(os.path.join(new, newest), "rb") as fh:
        _, score3, _, _ = status(fh.read())
    assert round(score3 - a_score, 3) == 1.0

    saparity.require_spamd()
    from sa_parity import Spamd  # tests/tools, on sys.path through saparity
    vcd = os.path.join(workdir, "spamd-prefs")
    for user in ("alice", "carol"):
        os.makedirs(os.path.join(vcd, user))
    # (spamd is given the rules that compile)
    with open(os.path.join(vcd, "alice", "user_prefs"), "w") as f:
        f.write(USER_RULES_PREFS.replace("body USER_BROKEN /unclosed(/\n", ""))
    subprocess.run(["chmod", "-R", "a+rwX", vcd], check=True)
    spamd = Spamd(rules, children=1, subtests=False,
                  args=["--virtual-config-dir=" + os.path.join(vcd, "%u")])
    try:
        theirs = {}
        for user in ("alice", "carol"):
            theirs[user] = spamd.check(b"Return-Path: <sender@example.org>\n" + message(1),
                                       want_score=True, user=user)
    finally:
        spamd.stop()
    ours = {"alice": (a_score, set(a_tests) - {"none"}),
            "carol": (c_score, set(c_tests) - {"none"})}
    assert ours == theirs
