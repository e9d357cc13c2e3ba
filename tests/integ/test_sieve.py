"""Sieve through the real daemon with real scripts (issue 4): folders and
flags read back with Dovecot's IMAP server, redirect and vacation mail
caught by Postfix's smtp-sink, broken scripts, reject per recipient,
before/after scripts, the users map's sieve_script=, scoring headers
seen by scripts, and the lmtpd-sieve tool."""
import imaplib
import os
import re
import shutil
import subprocess

import pytest

import integlib
from integlib import deliveries, make_message, read_new, split_trace, trace_dict, wait_for
from peers import Dovecot, have
from sieve_helpers import header, write_script
from test_protocol import compile_map

LMTPD_SIEVE = os.path.join(integlib.BUILDDIR, "sieve", "lmtpd-sieve")


def home(d, addr):
    local, _, domain = addr.partition("@")
    return os.path.join(d.mail, domain, local)


def all_in(maildir, sub):
    """Files of maildir/sub/{new,cur}: (name, bytes)."""
    out = []
    for part in ("new", "cur"):
        p = os.path.join(maildir, sub, part) if sub else os.path.join(maildir, part)
        for f in integlib.listdir(p):
            with open(os.path.join(p, f), "rb") as fh:
                out.append((part + "/" + f, fh.read()))
    return out


@pytest.fixture
def sieve_lmtpd(lmtpd_factory, sink):
    """lmtpd handing redirect and vacation mail to the smtp-sink."""
    return lmtpd_factory(submission=sink.submission, submission_timeout="10s")


@pytest.fixture
def dovecot(workdir, sieve_lmtpd):
    if not have("dovecot"):
        pytest.skip("dovecot-imapd is not installed")
    dc = Dovecot(workdir, sieve_lmtpd.mail, integlib.RUN_USER)
    dc.start()
    try:
        yield dc
    finally:
        dc.stop()


def imap_login(dc, user):
    imap = imaplib.IMAP4("127.0.0.1", dc.port)
    typ, _ = imap.login(user, "pass")
    assert typ == "OK"
    return imap


# ------------------------------------------------------------ folders

@pytest.mark.peers
def test_fileinto_folders_seen_by_dovecot(sieve_lmtpd, dovecot):
    """fileinto creates Maildir++ folders on demand (hierarchy, non-ASCII
    names in modified UTF-7), lists them in `subscriptions`, and Dovecot
    shows, subscribes and reads them; the log's folder= names them."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), """require ["fileinto"];
if header :contains "subject" "work" { fileinto "Work"; stop; }
if header :contains "subject" "sub" { fileinto "Work.Sub"; stop; }
if header :contains "subject" "greet" { fileinto "Grüße"; stop; }
if header :contains "subject" "both" { fileinto "Work"; fileinto "Work"; keep; }
""")
    for subj in ("work 1", "sub 1", "greet 1", "both 1", "plain 1"):
        t = d.deliver([bob], make_message(subject=subj))
        assert t.final_codes() == [250], t.finals
    md = d.maildir(bob)
    assert sorted(x for x in os.listdir(md) if x.startswith(".")) == [
        ".Gr&APwA3w-e", ".Work", ".Work.Sub"]
    for folder in (".Work", ".Work.Sub", ".Gr&APwA3w-e"):
        assert os.path.exists(os.path.join(md, folder, "maildirfolder"))
    with open(os.path.join(md, "subscriptions")) as f:
        assert f.read() == "V\t2\n\nWork\nWork\tSub\nGr&APwA3w-e\n"
    # "both": one copy in Work (not two), one in INBOX.
    assert len(all_in(md, ".Work")) == 2
    assert len(all_in(md, "")) == 2
    folders = [x["folder"] for x in deliveries(d.log())]
    assert folders == ["Work", "Work.Sub", "Grüße", "INBOX,Work", "INBOX"], folders

    imap = imap_login(dovecot, bob)
    try:
        typ, listed = imap.list()
        names = sorted(re.search(rb'"\." "?([^"]+)"?$', x).group(1).decode() for x in listed)
        assert names == ["Gr&APwA3w-e", "INBOX", "Work", "Work.Sub"], listed
        typ, subs = imap.lsub()
        assert sorted(re.search(rb'"\." "?([^"]+)"?$', x).group(1).decode()
                      for x in subs) == ["Gr&APwA3w-e", "Work", "Work.Sub"], subs
        for mbox, n, subject in (("Work", 2, "work 1"), ("Work.Sub", 1, "sub 1"),
                                 ('"Gr&APwA3w-e"', 1, "greet 1"), ("INBOX", 2, "both 1")):
            typ, data = imap.select(mbox, readonly=True)
            assert typ == "OK" and int(data[0]) == n, (mbox, data, dovecot.log())
            typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            got = b"".join(x[1] for x in data if isinstance(x, tuple))
            assert subject.encode() in got, (mbox, got)
        imap.logout()
    except Exception:
        print(dovecot.log())
        raise


@pytest.mark.fast
def test_bad_folder_names_kept_in_inbox(lmtpd):
    """Names that try "..", an empty level, control characters or a '/'
    are refused; the message is kept in INBOX, nothing appears outside
    the Maildir, and the refusal is logged."""
    d = lmtpd
    bob = "bob@example.com"
    for i, name in enumerate(["../../../etc", "a..b", ".hidden", "a/b", "x\ty", "Work."]):
        write_script(home(d, bob), 'require "fileinto";\nfileinto "%s";\n' % name)
        t = d.deliver([bob], make_message(subject="bad %d" % i))
        assert t.final_codes() == [250]
    md = d.maildir(bob)
    assert [x for x in os.listdir(md) if x.startswith(".")] == []
    assert len(read_new(md)) == 6
    assert len(re.findall(r"fileinto \".*\" refused: .*; keeping the message in INBOX",
                          d.log())) == 6
    assert os.listdir(d.mail) == ["example.com"]
    assert sorted(os.listdir(os.path.join(d.mail, "example.com"))) == ["bob"]
    # A folder that is a symlink out of the Maildir is not followed.
    outside = os.path.join(d.dir, "outside")
    os.makedirs(outside)
    os.chmod(outside, 0o777)
    os.symlink(outside, os.path.join(md, ".Evil"))
    write_script(home(d, bob), 'require "fileinto";\nfileinto "Evil";\n')
    assert d.deliver([bob], make_message(subject="evil")).final_codes() == [250]
    assert os.listdir(outside) == []
    assert len(read_new(md)) == 7
    assert "/.Evil is not a folder; keeping the message in INBOX" in d.log()


def test_interpreter_memory_bounded(lmtpd_factory):
    """sieve_max_memory caps what the interpreter may grow by: a script
    that makes libsieve parse a 5000-address field once per test (every
    parse kept until the end) is stopped there, logged as such, and the
    message kept in INBOX; the same script on a small message files it.
    (Not -m fast: under AddressSanitizer the cap is off.)"""
    d = lmtpd_factory(sieve_max_memory="24M")
    bob = "bob@example.com"
    write_script(home(d, bob), 'require "fileinto";\n' + "".join(
        'if address :is :domain "cc" "nomatch%d.org" { fileinto "No"; }\n' % i
        for i in range(100)) + 'fileinto "Done";\n')
    many = ", ".join("user%d@example%d.org" % (i, i % 50) for i in range(5000))
    assert d.deliver([bob], make_message(subject="huge cc", extra_headers=["Cc: " + many])
                     ).final_codes() == [250]
    assert d.deliver([bob], make_message(subject="small")).final_codes() == [250]
    md = d.maildir(bob)
    [(_, inbox)] = all_in(md, "")
    assert b"Subject: huge cc" in inbox
    [(_, done)] = all_in(md, ".Done")
    assert b"Subject: small" in done
    log = d.log()
    assert re.search(r"sieve: <bob@example\.com>: .*interpreter stopped: out of memory "
                     r"\(sieve_max_memory = 24M\)", log), log


def test_each_final_reply_sent_when_decided(lmtpd_factory):
    """A recipient whose script runs to its CPU limit does not hold back
    the replies of the recipients before it: the MTA (Postfix's
    lmtp_data_done_timeout is per reply) reads the first recipient's 250
    while the second one's script still runs, so a slow script can not
    time the whole transaction out and have the MTA deliver the others
    again.  A further recipient with the same scripts (slow+2) is not
    run again on the same message: it would only use its limit too."""
    d = lmtpd_factory(sieve_max_cpu_time="3s")
    fast, slow, slow2 = "fast@example.com", "slow@example.com", "slow+2@example.com"
    write_script(home(d, slow), 'require "regex";\n'
                 'if header :regex "x-long" "((((((((((a*)*)*)*)*)*)*)*)*)*)*b" { discard; }\n')
    msg = make_message(subject="slow script", extra_headers=["X-Long: " + "a" * 100000])
    with d.client() as c:
        c.lhlo()
        c.send(("MAIL FROM:<s@example.org>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\n"
                "RCPT TO:<%s>\r\nDATA\r\n" % (fast, slow, slow2)).encode())
        assert [c.reply().code for _ in range(5)] == [250, 250, 250, 250, 354]
        c.send(integlib.wire(msg))
        first = c.reply()
        log_then = d.log()
        second = c.reply()
        third = c.reply()
        c.quit()
    assert first.code == 250 and fast in first.line
    assert "to=<%s>" % fast in log_then and "to=<%s>" % slow not in log_then
    assert second.code == 250 and slow in second.line
    assert third.code == 250 and slow2 in third.line
    # The same scripts on the same message are not run again for the
    # next recipient (they would only run out of CPU time again).
    log = d.log()
    assert log.count("sieve_max_cpu_time") == 1, log
    assert re.search(r"<slow\+2@example.com>: not run: the same scripts ran out of CPU time", log)
    assert len(read_new(d.maildir(fast))) == 1 and len(read_new(d.maildir(slow))) == 2


@pytest.mark.fast
def test_address_fields_as_pigeonhole_tests_them(lmtpd):
    """The filters users write most: "From contains a name" on an encoded
    display name, an address in a Cc list holding a group, and a size
    with a lower-case unit, through the daemon."""
    d = lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), 'require "fileinto";\n'
                 'if header :contains "from" "M\u00fcller" { fileinto "Name"; }\n'
                 'if address :is "cc" "bob@example.com" { fileinto "Group"; }\n'
                 'if size :under 100k { fileinto "Small"; }\n')
    msg = make_message(subject="names", extra_headers=[
        "Cc: x@y.example, Team: bob@example.com;"]).replace(
        b"From: <sender@example.org>",
        b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <sender@example.org>")
    assert d.deliver([bob], msg).final_codes() == [250]
    md = d.maildir(bob)
    assert sorted(x for x in os.listdir(md) if x.startswith(".")) == [
        ".Group", ".Name", ".Small"]
    assert all_in(md, "") == []     # nothing in INBOX: the keep was cancelled


@pytest.mark.fast
def test_bounces_filed_by_null_sender(lmtpd):
    """"File the bounces": envelope :is "from" "" holds for MAIL FROM:<>
    (RFC 5228 5.4) and for no other sender."""
    d = lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), 'require ["fileinto", "envelope"];\n'
                 'if envelope :is "from" "" { fileinto "Bounces"; }\n')
    assert d.deliver([bob], make_message(subject="dsn"), sender="").final_codes() == [250]
    assert d.deliver([bob], make_message(subject="mail"),
                     sender="alice@example.org").final_codes() == [250]
    md = d.maildir(bob)
    assert len(all_in(md, ".Bounces")) == 1
    assert b"Subject: dsn" in all_in(md, ".Bounces")[0][1]
    assert len(all_in(md, "")) == 1 and b"Subject: mail" in all_in(md, "")[0][1]


@pytest.mark.fast
def test_inbox_children_in_any_case(lmtpd):
    """"inbox.Sub", "InBoX.Sub" and "INBOX.Sub" are one folder, INBOX's
    child .INBOX.Sub (as Dovecot's IMAP server has it), not three."""
    d = lmtpd
    bob = "bob@example.com"
    for i, name in enumerate(["inbox.Sub", "InBoX.Sub", "INBOX.Sub"]):
        write_script(home(d, bob), 'require "fileinto";\nfileinto "%s";\n' % name)
        assert d.deliver([bob], make_message(subject="sub %d" % i)).final_codes() == [250]
    md = d.maildir(bob)
    assert [x for x in os.listdir(md) if x.startswith(".")] == [".INBOX.Sub"]
    assert len(all_in(md, ".INBOX.Sub")) == 3
    with open(os.path.join(md, "subscriptions")) as f:
        assert f.read() == "V\t2\n\nINBOX\tSub\n"


@pytest.mark.fast
def test_folder_separator_slash(lmtpd_factory):
    """folder_separator = /: "Work/Sub" is the Maildir++ folder .Work.Sub,
    listed in subscriptions with the hierarchy; a '.' inside a level and
    an empty level are refused and the message kept in INBOX."""
    d = lmtpd_factory(folder_separator="/")
    bob = "bob@example.com"
    write_script(home(d, bob), """require ["fileinto"];
if header :is "subject" "deep" { fileinto "Work/Sub"; stop; }
if header :is "subject" "dot" { fileinto "Work.Dot"; stop; }
if header :is "subject" "empty" { fileinto "Work//Sub"; stop; }
""")
    for subj in ("deep", "dot", "empty"):
        t = d.deliver([bob], make_message(subject=subj))
        assert t.final_codes() == [250], t.finals
    md = d.maildir(bob)
    assert sorted(x for x in os.listdir(md) if x.startswith(".")) == [".Work.Sub"]
    [(_, data)] = all_in(md, ".Work.Sub")
    assert b"Subject: deep" in data
    with open(os.path.join(md, "subscriptions")) as f:
        assert f.read() == "V\t2\n\nWork\tSub\n"
    inbox = read_new(md)
    assert len(inbox) == 2
    assert len(re.findall(r"fileinto \".*\" refused: .*; keeping the message in INBOX",
                          d.log())) == 2


# -------------------------------------------------------------- flags

def fetch_flags(imap, mailbox):
    """{subject: set of FLAGS} of every message in mailbox (\\Recent, which
    Dovecot adds for a new session, left out)."""
    typ, _ = imap.select(mailbox, readonly=True)
    assert typ == "OK", mailbox
    typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = {}
    for item in data:
        if isinstance(item, tuple):
            subj = re.search(rb"Subject: (\S+)", item[1]).group(1).decode()
            out[subj] = set(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1)
                            .decode().split()) - {"\\Recent"}
    return out


@pytest.mark.peers
def test_flags_in_imap_fetch(sieve_lmtpd, dovecot):
    """imap4flags: flagged copies go to cur/ with :2,FLAGS and IMAP
    clients see them in FETCH FLAGS; unflagged ones stay in new/."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), """require ["imap4flags", "fileinto"];
if header :contains "subject" "seen" { addflag "\\\\Seen"; }
if header :contains "subject" "flag" {
  fileinto :flags ["\\\\Flagged", "\\\\Answered"] "Flagged";
}
if header :contains "subject" "set" { addflag "\\\\Draft"; setflag "\\\\Deleted \\\\Seen"; }
""")
    for subj in ("seen", "flag", "set", "none"):
        assert d.deliver([bob], make_message(subject=subj)).final_codes() == [250]
    md = d.maildir(bob)
    inbox = all_in(md, "")
    assert sorted(n.split("/")[0] for n, _ in inbox) == ["cur", "cur", "new"]
    assert any(n.endswith(":2,S") for n, _ in inbox)
    assert any(n.endswith(":2,ST") for n, _ in inbox)
    [(name, _)] = all_in(md, ".Flagged")
    assert name.startswith("cur/") and name.endswith(":2,FR")

    imap = imap_login(dovecot, bob)
    try:
        flags = fetch_flags(imap, "INBOX")
        assert flags["seen"] == {"\\Seen"}, flags
        assert flags["set"] == {"\\Seen", "\\Deleted"}, flags
        assert flags["none"] == set(), flags
        flags = fetch_flags(imap, "Flagged")
        assert flags["flag"] == {"\\Flagged", "\\Answered"}, flags
        imap.logout()
    except Exception:
        print(dovecot.log())
        raise



@pytest.mark.peers
def test_keywords_in_imap_fetch(sieve_lmtpd, dovecot):
    """imap4flags keywords ($Label1, $Junk, ...) are stored as Dovecot's
    Maildir letters and named in dovecot-keywords, so IMAP clients see
    them; a keyword Dovecot named first (set by an IMAP client) keeps its
    letter, and one that is not an IMAP atom is dropped with a log line
    while the message is still delivered.  A system flag Maildir has no
    letter for is logged as such; the keywords beside it are not counted
    there."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    assert d.deliver([bob], make_message(subject="first")).final_codes() == [250]
    imap = imap_login(dovecot, bob)
    try:
        # An IMAP client names $Work first: Dovecot gives it letter a.
        imap.select("INBOX")
        typ, _ = imap.store("1", "+FLAGS", "($Work)")
        assert typ == "OK"
        imap.close()
        with open(os.path.join(d.maildir(bob), "dovecot-keywords")) as f:
            assert f.read() == "0 $Work\n"

        write_script(home(d, bob), """require ["imap4flags", "fileinto"];
if header :contains "subject" "label" { addflag ["$Label1", "$work", "\\\\Seen"]; }
if header :contains "subject" "junk" {
  fileinto :flags ["$Junk", "no(parens)", "\\\\Bogus"] "Junk";
}
""")
        for subj in ("label", "junk"):
            assert d.deliver([bob], make_message(subject=subj)).final_codes() == [250]
        inbox = fetch_flags(imap, "INBOX")
        assert inbox["label"] == {"$Label1", "$Work", "\\Seen"}, inbox
        assert inbox["first"] == {"$Work"}, inbox
        junk = fetch_flags(imap, "Junk")
        assert junk["junk"] == {"$Junk"}, junk
        imap.logout()
    except Exception:
        print(dovecot.log())
        raise
    with open(os.path.join(d.maildir(bob), "dovecot-keywords")) as f:
        assert f.read() == "0 $Work\n1 $Label1\n"
    [(name, _)] = [(n, b) for n, b in all_in(d.maildir(bob), "") if b"label" in b]
    assert name.endswith(":2,Sab"), name
    assert wait_for(lambda: "1 keyword(s) not stored in Junk: not an IMAP keyword"
                    in d.log()), d.log()
    assert "sieve: <bob@example.com>: 1 unknown system flag(s) not stored" in d.log()

# ----------------------------------------------------------- redirect

@pytest.mark.peers
def test_redirect_reaches_smtp_sink(sieve_lmtpd, sink):
    """redirect hands the message to the MTA with the original envelope
    sender; our Delivered-To travels with it (loop detection), our
    Return-Path does not; no local copy (the implicit keep is
    cancelled)."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), 'redirect "carol@example.net";\n')
    msg = make_message(subject="forward me", body="Line one.\n.dot line\n")
    t = d.deliver([bob], msg, sender="alice@example.org")
    assert t.final_codes() == [250]
    [m] = sink.wait_messages(1)
    assert m["sender"] == "alice@example.org"
    assert m["rcpts"] == ["carol@example.net"]
    assert header(m, "Delivered-To") == bob
    assert header(m, "Return-Path") is None
    assert header(m, "Subject") == "forward me"
    assert m["raw"].split(b"\n\n", 1)[1].startswith(b"Line one.\n.dot line\n")
    assert read_new(d.maildir(bob)) == []
    [rec] = deliveries(d.log())
    assert rec["status"] == "sent" and rec["folder"] is None, rec
    assert re.search(r"sieve: <bob@example.com>: redirected to <carol@example.net>", d.log())


@pytest.mark.peers
def test_redirect_to_user_named_with_delimiter(lmtpd_factory, workdir, sink):
    """With recipient_delimiter = - and a users map holding both john and
    john-doe, john-doe is a user of its own (RCPT finds the address with
    its detail first, as Postfix's virtual(5)): john's redirect to him is
    handed to the MTA, not refused as "the recipient itself".  A redirect
    to john-x, which the map does not hold, is john's own detail: kept."""
    users = compile_map(os.path.join(workdir, "users"),
                        "john@example.com\njohn-doe@example.com\n")
    d = lmtpd_factory(users=users, recipient_delimiter="-",
                      submission=sink.submission, submission_timeout="10s")
    write_script(home(d, "john@example.com"),
                 'redirect "john-doe@example.com";\nredirect "John-X@example.com";\n')
    t = d.deliver(["john@example.com"], make_message(subject="to john-doe"))
    assert t.final_codes() == [250]
    [m] = sink.wait_messages(1)
    assert m["rcpts"] == ["john-doe@example.com"]
    log = d.log()
    assert "redirected to <john-doe@example.com>" in log, log
    assert re.search(r"redirect to <John-X@example.com> refused: that is the recipient "
                     r"itself", log), log
    assert "redirect to <john-doe@example.com> refused" not in log
    assert len(read_new(d.maildir("john@example.com"))) == 1


@pytest.mark.peers
def test_redirect_failure_is_tempfail(lmtpd_factory):
    """The MTA can not be reached: 451 4.3.0 for that recipient only (the
    MTA retries), 250 for the other one."""
    port = integlib.free_port()
    d = lmtpd_factory(submission="smtp:127.0.0.1:%d" % port, submission_timeout="5s")
    write_script(home(d, "bob@example.com"), 'redirect "carol@example.net";\n')
    t = d.deliver(["bob@example.com", "dave@example.com"], make_message())
    assert [(r.code, r.enh) for r in t.finals] == [(451, "4.3.0"), (250, "2.0.0")], t.finals
    statuses = {x["to"]: x["status"] for x in deliveries(d.log())}
    assert statuses == {"bob@example.com": "deferred", "dave@example.com": "sent"}
    assert re.search(r"redirect to <carol@example.net> failed: connect", d.log())


@pytest.mark.fast
def test_redirect_through_sendmail_program(lmtpd_factory, workdir):
    """submission = a sendmail-compatible program: it is run with the
    fixed argument vector -i -f SENDER -- RCPT (no shell: the sender's
    shell metacharacters arrive as one plain argument) and gets the
    message on its standard input; its failure is a 451 for that
    recipient."""
    out = os.path.join(workdir, "sendmail-out")
    os.makedirs(out)
    os.chmod(out, 0o777)
    prog = os.path.join(workdir, "fake-sendmail")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\n"
                "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > %s/args\n"
                "cat > %s/message\n"
                "[ -e %s/fail ] && exit 75\n"
                "exit 0\n" % (out, out, out))
    os.chmod(prog, 0o755)
    d = lmtpd_factory(submission=prog, submission_timeout="10s")
    write_script(home(d, "bob@example.com"), 'redirect "carol@example.net";\n')
    sender = "a;touch${IFS}pwned@example.org"
    t = d.deliver(["bob@example.com"], make_message(subject="via sendmail"),
                  sender=sender)
    assert t.final_codes() == [250], t.finals
    with open(os.path.join(out, "args")) as f:
        assert f.read().splitlines() == ["-i", "-f", sender, "--", "carol@example.net"]
    with open(os.path.join(out, "message"), "rb") as f:
        data = f.read()
    assert b"Subject: via sendmail" in data
    assert b"Delivered-To: bob@example.com" in data
    assert not os.path.exists(os.path.join(d.dir, "pwned"))
    assert read_new(d.maildir("bob@example.com")) == []

    open(os.path.join(out, "fail"), "w").close()
    t = d.deliver(["bob@example.com", "dave@example.com"], make_message(subject="again"))
    assert [(r.code, r.enh) for r in t.finals] == [(451, "4.3.0"), (250, "2.0.0")], t.finals
    assert re.search(r"redirect to <carol@example.net> failed: .*75", d.log()), d.log()[-2000:]


@pytest.mark.peers
def test_redirect_loops_and_self(sieve_lmtpd, sink):
    """A message that already went through this recipient (our
    Delivered-To, or an X-Loop naming it) is not redirected again, and a
    redirect to the recipient itself is refused: kept in INBOX."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), 'redirect "carol@example.net";\n')
    looped = make_message(subject="loop", extra_headers=["Delivered-To: bob@example.com"])
    assert d.deliver([bob], looped).final_codes() == [250]
    xloop = make_message(subject="xloop", extra_headers=["X-Loop: bob@example.com"])
    assert d.deliver([bob], xloop).final_codes() == [250]
    write_script(home(d, bob), 'redirect "Bob+Other@Example.com";\n')
    assert d.deliver([bob], make_message(subject="self")).final_codes() == [250]
    assert len(read_new(d.maildir(bob))) == 3
    assert sink.messages() == []
    assert len(re.findall(r"refused: mail loop", d.log())) == 2
    assert "refused: that is the recipient itself" in d.log()


@pytest.mark.peers
def test_redirect_unusable_address_keeps(sieve_lmtpd, sink):
    """A redirect the MTA could never take (a target or envelope sender
    starting with '-', which a sendmail program might read as an option)
    keeps the message with a warning: a 4xx would be retried until the
    MTA bounces it."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), 'redirect "-oQ@example.net";\n')
    assert d.deliver([bob], make_message(subject="target")).final_codes() == [250]
    write_script(home(d, bob), 'redirect "carol@example.net";\n')
    t = d.deliver([bob], make_message(subject="sender"), sender="-x@example.org")
    assert t.final_codes() == [250]
    assert len(read_new(d.maildir(bob))) == 2
    assert sink.messages() == []
    log = d.log()
    assert "redirect to <-oQ@example.net> refused: that address cannot be handed" in log
    assert "redirect to <carol@example.net> refused: the envelope sender cannot" in log
    # a quoted local part with a space is a usable sender
    t = d.deliver([bob], make_message(subject="quoted"), sender='"john doe"@example.org')
    assert t.final_codes() == [250]
    [m] = sink.wait_messages(1)
    assert m["sender"] == '"john doe"@example.org', m["sender"]


def fake_sendmail_failing_for(workdir, fails):
    """A sendmail program that appends each recipient it is given to
    OUT/sent and exits with fails[rcpt] (if any) instead."""
    out = os.path.join(workdir, "sendmail-out")
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o777)
    prog = os.path.join(workdir, "fake-sendmail")
    cases = "".join("  %s) exit %d ;;\n" % (a, code) for a, code in fails.items())
    with open(prog, "w") as f:
        f.write("#!/bin/sh\n"
                "cat > /dev/null\n"
                "for rcpt; do :; done\n"
                "case $rcpt in\n%s"
                "esac\n"
                "echo $rcpt >> %s/sent\n"
                "exit 0\n" % (cases, out))
    os.chmod(prog, 0o755)
    return prog, os.path.join(out, "sent")


def sent_lines(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


@pytest.mark.fast
def test_tempfail_retry_repeats_nothing(lmtpd_factory, workdir):
    """A 4xx after some actions took effect: the copies already stored
    are removed again, and a redirect already handed over is not sent
    again on the retry (logged as a discarded duplicate forward)."""
    prog, sent = fake_sendmail_failing_for(workdir, {"fail@example.net": 75})
    d = lmtpd_factory(submission=prog, submission_timeout="10s")
    bob = "bob@example.com"
    md = d.maildir(bob)
    # A copy into A, then B fails (its new/ is a file).
    write_script(home(d, bob), 'require "fileinto";\nfileinto "A";\nfileinto "B";\n')
    d.deliver([bob], make_message(subject="setup"))
    os.rename(os.path.join(md, ".B", "new"), os.path.join(md, ".B", "new.dir"))
    open(os.path.join(md, ".B", "new"), "w").close()
    msg = make_message(subject="twice")
    t = d.deliver([bob], msg)
    assert [r.code for r in t.finals] == [451], t.finals
    assert len(all_in(md, ".A")) == 1, all_in(md, ".A")
    assert "1 stored copy removed again for the retry" in d.log()
    os.unlink(os.path.join(md, ".B", "new"))
    os.rename(os.path.join(md, ".B", "new.dir"), os.path.join(md, ".B", "new"))
    assert d.deliver([bob], msg).final_codes() == [250]
    assert len(all_in(md, ".A")) == 2 and len(all_in(md, ".B")) == 2

    # keep, a redirect that goes out, one that fails for now: three
    # tries send carol's once and leave no copy in INBOX.
    write_script(home(d, bob), 'keep;\nredirect "carol@example.net";\n'
                 'redirect "fail@example.net";\n')
    msg = make_message(subject="redirects")
    for _ in range(3):
        t = d.deliver([bob], msg)
        assert [r.code for r in t.finals] == [451], t.finals
    assert sent_lines(sent) == ["carol@example.net"]
    assert read_new(md) == []
    assert len(re.findall(r"redirect to <carol@example.net> not sent again: discarded "
                          r"duplicate forward", d.log())) == 2
    # A message without Message-ID: the message's hash stands in.
    nomsgid = re.sub(rb"Message-ID: [^\n]*\n", b"", make_message(subject="no id"))
    for _ in range(2):
        assert [r.code for r in d.deliver([bob], nomsgid).finals] == [451]
    assert sent_lines(sent) == ["carol@example.net"] * 2
    # Another message is another forward.
    write_script(home(d, bob), 'keep;\nredirect "carol@example.net";\n')
    assert d.deliver([bob], msg).final_codes() == [250]
    assert sent_lines(sent) == ["carol@example.net"] * 2
    assert len(read_new(md)) == 1
    assert d.deliver([bob], make_message(subject="other")).final_codes() == [250]
    assert sent_lines(sent) == ["carol@example.net"] * 3


@pytest.mark.fast
def test_redirect_refused_for_good_keeps(lmtpd_factory, workdir):
    """The MTA refuses a redirect for good (here a sendmail exit status
    other than 75): logged, the message kept in INBOX, 250."""
    prog, sent = fake_sendmail_failing_for(workdir, {"nosuchuser@example.net": 67})
    d = lmtpd_factory(submission=prog, submission_timeout="10s")
    bob = "bob@example.com"
    write_script(home(d, bob), 'redirect "nosuchuser@example.net";\n'
                 'redirect "carol@example.net";\n')
    t = d.deliver([bob], make_message(subject="refused"))
    assert [(r.code, r.enh) for r in t.finals] == [(250, "2.0.0")], t.finals
    assert len(read_new(d.maildir(bob))) == 1
    assert sent_lines(sent) == ["carol@example.net"]
    assert re.search(r"redirect to <nosuchuser@example.net> failed \(permanent failure\): "
                     r".*status 67; keeping the message", d.log()), d.log()[-2000:]


@pytest.mark.peers
def test_redirect_to_utf8_without_smtputf8_keeps(sieve_lmtpd, sink):
    """A redirect to a UTF-8 address through an MTA that does not offer
    SMTPUTF8 (smtp-sink; Debian's Postfix by default) is refused for
    good, as Postfix itself bounces such mail: the message is kept in
    INBOX with 250, not deferred until the MTA gives up on it."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), 'redirect "j\u00f6rg@example.net";\n')
    t = d.deliver([bob], make_message(subject="forward me"))
    assert [(r.code, r.enh) for r in t.finals] == [(250, "2.0.0")], t.finals
    assert len(read_new(d.maildir(bob))) == 1
    assert re.search(r"redirect to <j\u00f6rg@example.net> failed \(permanent failure\): "
                     r".*does not offer SMTPUTF8.*; keeping the message", d.log()), \
        d.log()[-2000:]
    assert sink.messages() == []


@pytest.mark.fast
def test_new_folder_subscribed_after_failed_first_try(lmtpd):
    """A folder whose first delivery fails (here its subscription) is
    removed again, so the retry creates and subscribes it."""
    d = lmtpd
    bob = "bob@example.com"
    md = d.maildir(bob)
    write_script(home(d, bob), 'require "fileinto";\nfileinto "New";\n')
    d.deliver([bob], make_message(subject="setup"))   # makes the Maildir
    subs = os.path.join(md, "subscriptions")
    os.unlink(subs)
    shutil.rmtree(os.path.join(md, ".New"))
    os.mkdir(subs)   # can not be read: the subscription fails
    msg = make_message(subject="new folder")
    t = d.deliver([bob], msg)
    assert [r.code for r in t.finals] == [451], t.finals
    assert not os.path.exists(os.path.join(md, ".New"))
    assert "folder .New created by this delivery removed again" in d.log()
    os.rmdir(subs)
    assert d.deliver([bob], msg).final_codes() == [250]
    assert len(all_in(md, ".New")) == 1
    with open(subs) as f:
        assert "New" in f.read().split("\n")


@pytest.mark.fast
def test_folder_made_again_by_another_delivery_stays_subscribed(lmtpd_factory, workdir):
    """Delivery A makes folder New, subscribes it, then fails (its redirect
    gets a 4xx) and takes both back; delivery B of the same user makes New
    again meanwhile and stores into it.  However the two interleave, New
    ends up there and subscribed.  The test holds the flock lmtpd takes on
    the Maildir around a subscriptions change, so A's unsubscribe waits
    until B has made the folder and stored its copy."""
    import fcntl
    import threading
    prog = os.path.join(workdir, "slow-sendmail")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\n"
                "if grep -q '^Subject: AAA' ; then sleep 1; exit 75; fi\n"
                "exit 0\n")
    os.chmod(prog, 0o755)
    d = lmtpd_factory(submission=prog, submission_timeout="10s")
    bob = "bob@example.com"
    md = d.maildir(bob)
    d.deliver([bob], make_message(subject="setup"))   # makes the Maildir
    subs = os.path.join(md, "subscriptions")
    write_script(home(d, bob), 'require "fileinto";\nfileinto "New";\n'
                 'redirect "carol@example.net";\n')
    results = {}

    def deliver(name, subject):
        results[name] = d.deliver([bob], make_message(subject=subject)).final_codes()

    a = threading.Thread(target=deliver, args=("A", "AAA"))
    a.start()
    wait_for(lambda: os.path.exists(subs) and "New" in open(subs).read().split("\n"),
             10, what="A subscribing New")
    fd = os.open(md, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        wait_for(lambda: "folder .New created by this delivery removed again" in d.log(),
                 10, what="A taking New back")
        b = threading.Thread(target=deliver, args=("B", "BBB"))
        b.start()
        wait_for(lambda: len(all_in(md, ".New")) == 1, 10, what="B storing into New")
    finally:
        os.close(fd)    # drops the flock
    a.join(20)
    b.join(20)
    assert results == {"A": [451], "B": [250]}, results
    assert len(all_in(md, ".New")) == 1
    with open(subs) as f:
        assert "New" in f.read().split("\n")


def padded_message(pad_bytes):
    """A message with pad_bytes of X-Pad fields before its Subject."""
    line = "X-Pad: " + "p" * 990 + "\n"
    pad = line * (pad_bytes // len(line))
    return ("From: alice@example.org\nTo: bob@example.com\n%s"
            "Subject: please match-me\nMessage-ID: <pad%d@example.org>\n\nbody\n"
            % (pad, pad_bytes)).encode()


@pytest.mark.fast
def test_huge_header_block_cut_for_sieve_is_logged(lmtpd):
    """Sieve's tests read at most 1 MiB of the header block: a field past
    it is not seen, and the log says so for that recipient."""
    d = lmtpd
    bob = "bob@example.com"
    md = d.maildir(bob)
    write_script(home(d, bob), 'require "fileinto";\n'
                 'if header :contains "subject" "match-me" { fileinto "Hit"; }\n')
    assert d.deliver([bob], padded_message(900 * 1024)).final_codes() == [250]
    assert len(all_in(md, ".Hit")) == 1
    assert "header block over" not in d.log()
    assert d.deliver([bob], padded_message(1100 * 1024)).final_codes() == [250]
    assert len(all_in(md, ".Hit")) == 1 and len(read_new(md)) == 1
    assert re.search(r"sieve: <bob@example.com>: header block over 1024 KiB: the scripts' "
                     r"header and address tests see only its first 1024 KiB", d.log())


@pytest.mark.fast
def test_failed_delivery_leaves_no_subscription(lmtpd_factory, workdir):
    """A 4xx removes the folders the delivery created and the
    subscriptions it added with them (no client is left subscribed to a
    folder that is not there); a name the user subscribed before the
    folder existed stays subscribed."""
    prog, sent = fake_sendmail_failing_for(workdir, {"fail@example.net": 75})
    d = lmtpd_factory(submission=prog, submission_timeout="10s")
    bob = "bob@example.com"
    md = d.maildir(bob)
    d.deliver([bob], make_message(subject="setup"))   # makes the Maildir
    subs = os.path.join(md, "subscriptions")
    with open(subs, "w") as f:
        f.write("V\t2\n\nMine\nLater\n")
    write_script(home(d, bob), 'require "fileinto";\nfileinto "New";\nfileinto "Later";\n'
                 'redirect "fail@example.net";\n')
    msg = make_message(subject="fails for now")
    t = d.deliver([bob], msg)
    assert [r.code for r in t.finals] == [451], t.finals
    assert not os.path.exists(os.path.join(md, ".New"))
    assert not os.path.exists(os.path.join(md, ".Later"))
    with open(subs) as f:
        assert f.read() == "V\t2\n\nMine\nLater\n"
    assert "subscription to folder .New removed again" in d.log()
    assert "subscription to folder .Later removed again" not in d.log()
    # Once the redirect goes out, both are there and subscribed once.
    write_script(home(d, bob), 'require "fileinto";\nfileinto "New";\nfileinto "Later";\n')
    assert d.deliver([bob], msg).final_codes() == [250]
    with open(subs) as f:
        assert sorted(f.read().split("\n")[2:]) == ["", "Later", "Mine", "New"]


# ----------------------------------------------------------- vacation

@pytest.mark.peers
def test_vacation_once_per_days(sieve_lmtpd, sink):
    """vacation answers a sender once per :days (history in Berkeley DB),
    through the MTA with a null envelope sender and RFC 3834 headers; not
    lists, bulk, auto-replies or mail not addressed to the user."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), """require "vacation";
vacation :days 3 :subject "Out of office" "I am away until Monday.";
""")
    first = make_message(subject="Lunch?", sender="alice@example.org", to=bob)
    assert d.deliver([bob], first, sender="alice@example.org").final_codes() == [250]
    [reply] = sink.wait_messages(1)
    assert reply["sender"] == "" and reply["rcpts"] == ["alice@example.org"]
    assert header(reply, "Auto-Submitted") == "auto-replied (vacation)"
    assert header(reply, "Subject") == "Out of office"
    assert header(reply, "From") == bob
    assert header(reply, "To") == "<alice@example.org>"
    msgid = re.search(rb"Message-ID: (<[^>]+>)", first).group(1).decode()
    assert header(reply, "In-Reply-To") == msgid
    assert msgid in header(reply, "References")
    assert b"I am away until Monday." in reply["raw"]
    # The message itself was kept.
    assert len(read_new(d.maildir(bob))) == 1
    # Same sender again: no second reply within :days.
    again = make_message(subject="Lunch??", sender="alice@example.org", to=bob)
    assert d.deliver([bob], again, sender="alice@example.org").final_codes() == [250]
    # Not answered: a list, bulk, an auto-reply, not addressed to bob,
    # MAILER-DAEMON, the null sender.
    for sender, extra, to in (
            ("list@example.org", ["List-Id: <l.example.org>"], bob),
            ("news@example.org", ["Precedence: bulk"], bob),
            ("robot@example.org", ["Auto-Submitted: auto-generated"], bob),
            ("team@example.org", [], "team@example.com"),
            ("MAILER-DAEMON@example.org", [], bob),
            ("", [], bob)):
        m = make_message(sender=sender or "x@example.org", to=to, extra_headers=extra)
        assert d.deliver([bob], m, sender=sender).final_codes() == [250]
    # Another sender: answered.
    other = make_message(subject="Hi", sender="carol@example.org", to=bob)
    assert d.deliver([bob], other, sender="carol@example.org").final_codes() == [250]
    replies = sink.wait_messages(2)
    assert [r["rcpts"] for r in replies] == [["alice@example.org"], ["carol@example.org"]]
    log = d.log()
    assert "no vacation reply to <alice@example.org>: already answered within :days" in log
    # lmtpd's rules decide every case (libsieve's own checks are made to
    # pass), each logged.
    assert "no vacation reply to <list@example.org>: mailing list message" in log
    assert "no vacation reply to <team@example.org>: message not addressed to the user" \
        in log
    assert len(read_new(d.maildir(bob))) == 9


@pytest.mark.peers
def test_vacation_from_and_addresses(sieve_lmtpd, sink):
    """With :from, libsieve skips its own "addressed to me" check and does
    not pass :addresses on: lmtpd checks against the script's :addresses
    (and the ORCPT, for mail that came through an alias); the reply comes
    from the :from address; mail to none of them gets no reply."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), """require "vacation";
vacation :from "bob@example.com" :subject "Away"
  :addresses ["team@example.net", "help@example.net"] "Back on Monday.";
""")
    to_team = make_message(subject="for the team", sender="alice@example.org",
                           to="team@example.net")
    assert d.deliver([bob], to_team, sender="alice@example.org").final_codes() == [250]
    [reply] = sink.wait_messages(1)
    assert reply["sender"] == "" and reply["rcpts"] == ["alice@example.org"]
    assert header(reply, "From") == "bob@example.com"
    assert header(reply, "Subject") == "Away"
    assert header(reply, "Auto-Submitted") == "auto-replied (vacation)"
    assert b"Back on Monday." in reply["raw"]
    # Addressed to none of bob's addresses: no reply.
    other = make_message(subject="elsewhere", sender="carol@example.org",
                         to="sales@example.net")
    assert d.deliver([bob], other, sender="carol@example.org").final_codes() == [250]
    # Sent to an alias that Postfix rewrote to bob (ORCPT names it):
    # addressed to bob.
    aliased = make_message(subject="via alias", sender="dave@example.org",
                           to="bobby@example.org")
    with d.client() as c:
        c.lhlo()
        t = c.transaction("dave@example.org", [bob], aliased,
                          rcpt_params=["ORCPT=rfc822;bobby@example.org"])
        c.quit()
    assert t.final_codes() == [250]
    replies = sink.wait_messages(2)
    assert [r["rcpts"] for r in replies] == [["alice@example.org"], ["dave@example.org"]]
    log = d.log()
    assert "no vacation reply to <carol@example.org>: message not addressed to the user" \
        in log
    assert len(read_new(d.maildir(bob))) == 3


@pytest.mark.peers
def test_vacation_not_for_spam(lmtpd_factory, sink, workdir):
    """With scoring on, a script sees lmtpd's X-Spam-* headers (relational
    i;ascii-numeric on X-Spam-Score), and spam gets no vacation reply."""
    rules = os.path.join(workdir, "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "50_test.cf"), "w") as f:
        f.write("required_score 5\n"
                "header LMTPD_TEST_SPAM Subject =~ /SPAMTEST/\n"
                "score LMTPD_TEST_SPAM 10.0\n")
    os.chmod(rules, 0o755)
    d = lmtpd_factory(rules_dir=rules, submission=sink.submission)
    bob = "bob@example.com"
    write_script(home(d, bob), """require ["fileinto", "relational",
  "comparator-i;ascii-numeric", "vacation"];
if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5" {
  fileinto "Junk";
}
vacation "Away";
""")
    spam = make_message(subject="SPAMTEST buy now", sender="spammer@example.org", to=bob)
    assert d.deliver([bob], spam, sender="spammer@example.org").final_codes() == [250]
    ham = make_message(subject="hello", sender="alice@example.org", to=bob)
    assert d.deliver([bob], ham, sender="alice@example.org").final_codes() == [250]
    md = d.maildir(bob)
    [(_, junk)] = all_in(md, ".Junk")
    assert b"X-Spam-Flag: YES" in junk and b"X-Spam-Score: 10" in junk
    assert len(read_new(md)) == 1
    [reply] = sink.wait_messages(1)
    assert reply["rcpts"] == ["alice@example.org"]
    assert "no vacation reply to <spammer@example.org>: message is spam" in d.log()


# ------------------------------------------------- errors, reject, discard

@pytest.mark.fast
def test_broken_script_delivers_to_inbox(lmtpd):
    """A script that does not parse: 250, the copy in INBOX, a warning with
    file and line in the log and in the user's .dovecot.sieve.log."""
    d = lmtpd
    bob = "bob@example.com"
    script = write_script(home(d, bob), 'require "fileinto";\n\nfileinto "Work"\n')
    t = d.deliver([bob], make_message(subject="broken"))
    assert t.final_codes() == [250]
    assert len(read_new(d.maildir(bob))) == 1
    assert re.search(r"warning: [0-9A-F]+: sieve: <bob@example.com>: %s: line \d+: "
                     r"error: .*; keeping the message in INBOX" % re.escape(script), d.log())
    with open(script + ".log") as f:
        assert re.search(r"%s: line \d+: error: " % re.escape(script), f.read())
    [rec] = deliveries(d.log())
    assert rec["folder"] == "INBOX" and rec["status"] == "sent"


@pytest.mark.fast
def test_flags_past_the_bounds_logged(lmtpd):
    """A script setting 40 flags and one of 200 bytes: the copy is stored
    (in cur/, as a message with keywords), and a warning says how many
    flags were left off (the Maildir then keeps 26 keywords of the 32, and
    says so too)."""
    d = lmtpd
    bob = "bob@example.com"
    flags = ", ".join('"k%02d"' % i for i in range(40)) + ', "%s"' % ("y" * 200)
    write_script(home(d, bob), 'require "imap4flags";\naddflag [%s];\n' % flags)
    t = d.deliver([bob], make_message(subject="many flags"))
    assert t.final_codes() == [250]
    assert len(os.listdir(os.path.join(d.maildir(bob), "cur"))) == 1
    assert re.search(r"<bob@example.com>: 6 keyword\(s\) not stored in INBOX", d.log())
    assert re.search(r"warning: [0-9A-F]+: sieve: <bob@example.com>: 9 IMAP flag\(s\) left "
                     r"off: a copy keeps at most 32 flags of at most 128 bytes", d.log()), d.log()


@pytest.mark.fast
def test_script_that_is_no_script_file(lmtpd):
    """A .dovecot.sieve that is a FIFO (nobody writes to it), a folder, a
    symlink to itself or to /dev/zero, or far past sieve_max_script_size,
    and a script nested past the parser's depth: 250 in INBOX and a
    warning naming the script, nothing hangs; a dangling symlink is no
    script at all, as a missing file."""
    d = lmtpd
    bob = "bob@example.com"
    script = write_script(home(d, bob), "keep;\n")
    deep = 'require "fileinto";\nif ' + "allof(" * 20000 + "true" + ")" * 20000 + \
        ' { fileinto "Deep"; }\n'
    cases = [
        ("fifo", lambda: os.mkfifo(script), "not a regular file"),
        ("folder", lambda: os.mkdir(script), "not a regular file"),
        ("loop", lambda: os.symlink(".dovecot.sieve", script), "open failed"),
        ("zero", lambda: os.symlink("/dev/zero", script), "not a regular file"),
        ("huge", lambda: open(script, "w").write("#" * (2 << 20) + "\nkeep;\n"),
         "script too large"),
        ("deep", lambda: open(script, "w").write(deep), "error: "),
        ("dangling", lambda: os.symlink("/nonexistent/x.sieve", script), None),
    ]
    for name, make, why in cases:
        if os.path.isdir(script) and not os.path.islink(script):
            os.rmdir(script)
        elif os.path.lexists(script):
            os.unlink(script)
        make()
        off = d.log_size()
        t = d.deliver([bob], make_message(subject=name))
        assert t.final_codes() == [250], name
        log = d.log_since(off)
        [rec] = deliveries(log)
        assert rec["folder"] == "INBOX", (name, rec)
        warned = re.search(r"sieve: <bob@example.com>: %s: .*%s.*; keeping the message in "
                           r"INBOX" % (re.escape(script), re.escape(why or "")), log)
        assert bool(warned) == (why is not None), (name, log)
    assert len(read_new(d.maildir(bob))) == len(cases)


@pytest.mark.fast
def test_runtime_limit_delivers_to_inbox(lmtpd_factory):
    """A run-time failure (more redirects than sieve_max_redirects): 250,
    the copy in INBOX, nothing redirected, the error with file and line in
    the log and in the user's .dovecot.sieve.log."""
    port = integlib.free_port()
    # Nothing listens there: a redirect handed over would be a 451.
    d = lmtpd_factory(sieve_max_redirects="1", submission="smtp:127.0.0.1:%d" % port)
    bob = "bob@example.com"
    script = write_script(home(d, bob), 'redirect "carol@example.net";\n'
                          'if true {\n  redirect "dave@example.net";\n}\n')
    t = d.deliver([bob, "erin@example.com"], make_message(subject="two redirects"))
    assert [(r.code, r.enh) for r in t.finals] == [(250, "2.0.0"), (250, "2.0.0")], t.finals
    assert len(read_new(d.maildir(bob))) == 1
    want = r"%s: line 3: error: too many redirects \(sieve_max_redirects = 1\)" % \
        re.escape(script)
    assert re.search(r"warning: [0-9A-F]+: sieve: <bob@example.com>: %s; "
                     r"keeping the message in INBOX" % want, d.log()), d.log()
    with open(script + ".log") as f:
        assert re.search(want, f.read())
    assert "redirected to" not in d.log()
    recs = {x["to"]: x for x in deliveries(d.log())}
    assert recs[bob]["folder"] == "INBOX" and recs[bob]["status"] == "sent"


@pytest.mark.fast
def test_envelope_detail_through_rcpt(lmtpd):
    """envelope :detail and :user see the address of the real RCPT TO
    (bob+lists@example.com: user bob, detail lists); the copy goes to
    bob's Maildir."""
    d = lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), """require ["envelope", "subaddress", "fileinto"];
if envelope :detail "to" "lists" { fileinto "Lists"; stop; }
if envelope :user "to" "bob" { fileinto "Bob"; stop; }
""")
    assert d.deliver(["bob+lists@example.com"], make_message(subject="l")).final_codes() \
        == [250]
    assert d.deliver(["bob+other@example.com"], make_message(subject="o")).final_codes() \
        == [250]
    assert d.deliver([bob], make_message(subject="plain")).final_codes() == [250]
    md = d.maildir(bob)
    [(_, lists)] = all_in(md, ".Lists")
    assert b"Subject: l" in lists and b"Delivered-To: bob+lists@example.com" in lists
    assert sorted(re.search(rb"Subject: (\w+)", m).group(1) for _, m in all_in(md, ".Bob")) \
        == [b"o", b"plain"]
    assert read_new(md) == []


@pytest.mark.fast
def test_unsupported_extension_kept(lmtpd):
    """A script that needs an extension libsieve lacks (body, variables)
    fails validation, is logged clearly, and the mail is kept, although
    the script would discard this very message."""
    d = lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), 'require ["fileinto", "body"];\n'
                 'if body :contains "Hello" { discard; }\n')
    msg = make_message(body="Hello.\n")
    assert d.deliver([bob], msg).final_codes() == [250]
    assert [split_trace(f)[1] for f in read_new(d.maildir(bob))] == [msg]
    assert re.search(r"line 1: error: unsupported feature: body.*"
                     r"; keeping the message in INBOX", d.log()), d.log()
    [rec] = deliveries(d.log())
    assert (rec["folder"], rec["status"]) == ("INBOX", "sent"), rec


@pytest.mark.fast
def test_reject_is_per_recipient(lmtpd):
    """reject: 550 5.7.1 with the script's reason for that recipient, 250
    for the others; nothing stored for it, status=bounced in the log."""
    d = lmtpd
    write_script(home(d, "bob@example.com"),
                 'require "reject";\nreject "I do not want this. Go away.";\n')
    write_script(home(d, "dave@example.com"), 'discard;\n')
    t = d.deliver(["bob@example.com", "carol@example.com", "dave@example.com"],
                  make_message())
    codes = [(r.code, r.enh) for r in t.finals]
    assert codes == [(550, "5.7.1"), (250, "2.0.0"), (250, "2.0.0")], t.finals
    assert t.finals[0].line.endswith("I do not want this. Go away.")
    assert read_new(d.maildir("bob@example.com")) == []
    assert len(read_new(d.maildir("carol@example.com"))) == 1
    assert read_new(d.maildir("dave@example.com")) == []
    st = {x["to"]: x["status"] for x in deliveries(d.log())}
    assert st == {"bob@example.com": "bounced", "carol@example.com": "sent",
                  "dave@example.com": "discarded"}


def test_reject_reason_in_utf8(lmtpd):
    """A reason in German reaches the MTA readable in an SMTPUTF8
    transaction (RFC 6531) and as '?' for its non-ASCII bytes in any
    other, where replies are ASCII."""
    write_script(home(lmtpd, "bob@example.com"),
                 'require "reject";\nreject "Nachricht zu groß";\n')
    with lmtpd.client() as c:
        c.lhlo()
        utf8 = c.transaction("s@example.org", ["bob@example.com"], make_message(),
                             mail_params="SMTPUTF8")
        plain = c.transaction("s@example.org", ["bob@example.com"], make_message())
        c.quit()
    assert [(r.code, r.enh) for r in utf8.finals + plain.finals] == [(550, "5.7.1")] * 2
    assert utf8.finals[0].line.endswith("Nachricht zu groß")
    assert plain.finals[0].line.endswith("Nachricht zu gro??")


def test_before_after_scripts(lmtpd_factory, workdir):
    """sieve_before (a folder, name order) and sieve_after with Pigeonhole's
    semantics (a `stop` in the user's script with the keep in effect does
    not skip the after scripts); a users map entry's sieve_script= replaces
    the template."""
    before = os.path.join(workdir, "before.d")
    os.makedirs(before)
    with open(os.path.join(before, "10-junk.sieve"), "w") as f:
        f.write('require "fileinto";\nif header :contains "subject" "[SPAM]" '
                '{ fileinto "Junk"; }\n')
    after = os.path.join(workdir, "after.sieve")
    with open(after, "w") as f:
        f.write('require "fileinto";\nif header :contains "subject" "late" '
                '{ fileinto "After"; }\n')
    os.chmod(before, 0o755)
    users = os.path.join(workdir, "users")
    compile_map(users, "bob@example.com\ncarol@example.com sieve_script=%h/my.sieve\n")
    d = lmtpd_factory(sieve_before=before, sieve_after=after, users=users)
    write_script(home(d, "bob@example.com"), 'if header :contains "subject" "stop" '
                 '{ stop; }\n')
    write_script(home(d, "carol@example.com"), 'require "fileinto";\nfileinto "Mine";\n',
                 name="my.sieve")
    for subj in ("[SPAM] x", "late", "late stop", "plain"):
        assert d.deliver(["bob@example.com"], make_message(subject=subj)).final_codes() \
            == [250]
    assert d.deliver(["carol@example.com"], make_message()).final_codes() == [250]
    folders = [(x["to"], x["folder"]) for x in deliveries(d.log())]
    assert folders == [("bob@example.com", "Junk"), ("bob@example.com", "After"),
                       ("bob@example.com", "After"), ("bob@example.com", "INBOX"),
                       ("carol@example.com", "Mine")], folders


# ---------------------------------------------------------------- tool

@pytest.mark.fast
def test_lmtpd_sieve_tool(workdir):
    """lmtpd-sieve SCRIPT: errors with line numbers and exit 1; with a
    message and -e: the actions, nothing delivered or sent."""
    bad = os.path.join(workdir, "bad.sieve")
    with open(bad, "w") as f:
        f.write('require "fileinto";\nkeep;\nfileinto "x"\n')
    r = subprocess.run([LMTPD_SIEVE, bad], capture_output=True, text=True)
    assert r.returncode == 1
    assert re.search(r"bad.sieve: line \d+: error: syntax error", r.stderr), r.stderr
    good = os.path.join(workdir, "good.sieve")
    with open(good, "w") as f:
        f.write('require ["fileinto", "envelope", "subaddress", "imap4flags"];\n'
                'if envelope :detail "to" "lists" { fileinto :flags "\\\\Seen" "Lists"; }\n'
                'redirect "carol@example.net";\n')
    msg = os.path.join(workdir, "m.eml")
    with open(msg, "wb") as f:
        f.write(make_message())
    r = subprocess.run([LMTPD_SIEVE, good], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "%s: valid\n" % good, r
    r = subprocess.run([LMTPD_SIEVE, "-e", "from=a@example.org",
                        "-e", "to=bob+lists@example.com", good, msg],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ('actions:\n'
                        '  fileinto :flags ["\\\\Seen"] "Lists"\n'
                        '  redirect <carol@example.net>\n'), r.stdout
    # vacation with :from and :addresses (libsieve drops the latter; lmtpd
    # reads them from the script), a run-time error with its line.
    vac = os.path.join(workdir, "vac.sieve")
    with open(vac, "w") as f:
        f.write('require "vacation";\nvacation :from "bob@example.com"\n'
                '  :addresses ["team@example.net", "bob+x@example.com"] "Away";\n')
    r = subprocess.run([LMTPD_SIEVE, "-e", "from=a@example.org", "-e", "to=bob@example.com",
                        vac, msg], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert ':from <bob@example.com> :subject "Auto: ' in r.stdout, r.stdout
    assert ':addresses ["team@example.net", "bob+x@example.com"] :handle' in r.stdout, r.stdout
    # delivery's vacation rules: what it would not send is marked, why
    for sender, to, header, why in (
            ("a@example.org", "bob+y@example.com", "To: Bob <BOB+y@example.com>", None),
            ("a@example.org", "bob@example.com", "To: team@example.net", None),
            ("", "bob@example.com", "To: bob@example.com", "null envelope sender"),
            ("a@example.org", "bob@example.com", "To: other@example.net",
             "message not addressed to the user"),
            ("a@example.org", "bob@example.com", "To: bob@example.com\nList-Id: <l.x>",
             r"mailing list message \(List-\* field\)"),
            ("BOB+x@example.com", "bob@example.com", "To: bob@example.com",
             "message is from the user")):
        with open(msg, "w") as f:
            f.write("From: a@example.org\n%s\nSubject: hi\n\nbody\n" % header)
        r = subprocess.run([LMTPD_SIEVE, "-e", "from=" + sender, "-e", "to=" + to, vac, msg],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        [line] = [x for x in r.stdout.splitlines() if x.startswith("  vacation ")]
        if why is None:
            assert line.endswith('"Away"'), line
        else:
            assert re.search(r'"Away" \(not sent: %s\)$' % why, line), line
    # the recipient's user is cut from its detail as delivery cuts it
    # (Postfix's split_addr): with "-" a delimiter, owner-bob is a user of
    # its own, not owner with a detail, so owner's mail is not "from the
    # user"; carl-x is carl's
    conf = os.path.join(workdir, "delim.conf")
    with open(conf, "w") as f:
        f.write("recipient_delimiter = +-\n")
    for sender, to, why in (
            ("owner@example.com", "owner-bob@example.com", None),
            ("carl@example.com", "carl-x@example.com", "message is from the user")):
        with open(msg, "w") as f:
            f.write("From: %s\nTo: %s\nSubject: hi\n\nbody\n" % (sender, to))
        r = subprocess.run([LMTPD_SIEVE, "-c", conf, "-e", "from=" + sender, "-e", "to=" + to,
                            vac, msg], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        [line] = [x for x in r.stdout.splitlines() if x.startswith("  vacation ")]
        if why is None:
            assert line.endswith('"Away"'), (to, line)
        else:
            assert line.endswith('"Away" (not sent: %s)' % why), (to, line)
    with open(msg, "wb") as f:
        f.write(make_message())
    rt = os.path.join(workdir, "rt.sieve")
    with open(rt, "w") as f:
        f.write('require "reject";\nkeep;\nreject "no";\n')
    r = subprocess.run([LMTPD_SIEVE, "-e", "from=a@example.org", "-e", "to=bob@example.com",
                        rt, msg], capture_output=True, text=True)
    assert r.returncode == 1
    assert re.match(r"error: \S*rt.sieve: line 3: error: reject can not be used with keep, "
                    r".*\nactions:\n  keep \(implicit\)\n$", r.stdout), r.stdout
    r = subprocess.run([LMTPD_SIEVE, "-x"], capture_output=True, text=True)
    assert r.stdout.split() == ["regex", "imap4flags", "relational", "subaddress",
                                "fileinto", "reject", "envelope", "vacation"]


@pytest.mark.fast
def test_config_check_validates_admin_scripts(workdir):
    """lmtpd -t reports a broken sieve_before/sieve_after script with file
    and line (every message would otherwise stay in INBOX)."""
    before = os.path.join(workdir, "before.sieve")
    with open(before, "w") as f:
        f.write("require \"fileinto\";\ndiscard\n")
    conf = os.path.join(workdir, "check.conf")
    with open(conf, "w") as f:
        f.write("sieve_before = %s\nstate_dir = %s\n" % (before, workdir))
    r = subprocess.run([integlib.LMTPD, "-t", "-c", conf], capture_output=True, text=True)
    assert r.returncode == 1
    assert re.search(r"before.sieve: line 3: error: syntax error", r.stderr), r.stderr
    with open(before, "w") as f:
        f.write("discard;\n")
    r = subprocess.run([integlib.LMTPD, "-t", "-c", conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
