"""LMTP protocol and delivery through the real daemon: per-recipient
replies, what lands on disk, and the log lines (DESIGN "Replies the MTA
gets", "One log line per recipient delivery", "Delivery invariants")."""
import os
import pwd
import re
import smtplib
import subprocess
import time

import pytest

import integlib
from integlib import (deliveries, make_message, messages, read_new,
                      split_trace, stray_files, trace_dict, check_maildir_names,
                      maildir_new, listdir)


def chown_run_user(path):
    pw = pwd.getpwnam(integlib.RUN_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def compile_map(path, text):
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([integlib.LMTPD_MAP, path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


def fill_filesystem(path):
    """Writes a filler file until the file system is full."""
    fd = os.open(os.path.join(path, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"x" * 4096) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def full_tmpfs(workdir):
    """A small tmpfs under the test folder holding an (empty) Maildir,
    then filled to the last byte.  The workdir fixture unmounts it."""
    mnt = os.path.join(workdir, "homes", "full")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    for d in ("Maildir", "Maildir/tmp", "Maildir/new", "Maildir/cur"):
        os.mkdir(os.path.join(mnt, d), 0o700)
        chown_run_user(os.path.join(mnt, d))
    fill_filesystem(mnt)
    return mnt


@pytest.mark.fast
def test_mixed_per_recipient_results(lmtpd_factory, workdir, full_tmpfs):
    """One transaction, one reply per recipient, each independent of the
    others (invariant 3): unknown user 550 5.1.1 at RCPT; a Maildir path
    that is a regular file 451 4.3.0; a full file system 452 4.3.1 with
    nothing half-written; the rest 250; a repeated recipient answered
    twice and stored once."""
    homes = os.path.join(workdir, "homes")
    chown_run_user(homes)
    os.makedirs(os.path.join(homes, "file"))
    with open(os.path.join(homes, "file", "Maildir"), "w") as f:
        f.write("not a maildir\n")
    users = compile_map(os.path.join(workdir, "users"), "".join(
        "%s@example.com home=%s/%s\n" % (u, homes, u)
        for u in ("alice", "bob", "file", "full")))
    d = lmtpd_factory(users=users)

    rcpts = ["alice@example.com", "nobody@example.com", "file@example.com",
             "full@example.com", "bob@example.com", "Alice@Example.COM"]
    msg = make_message("mixed", "Body of the mixed message.\n")
    t = d.deliver(rcpts, msg)
    assert t.mail.code == 250
    assert [r.code for r in t.rcpts] == [250, 550, 250, 250, 250, 250]
    assert t.rcpts[1].enh == "5.1.1" and "<nobody@example.com>" in t.rcpts[1].line
    assert [(r.code, r.enh) for r in t.finals] == [
        (250, "2.0.0"), (451, "4.3.0"), (452, "4.3.1"), (250, "2.0.0"), (250, "2.0.0")]
    accepted = [a for a in rcpts if a != "nobody@example.com"]
    for r, a in zip(t.finals, accepted):
        assert "<%s>" % a in r.line, (r, a)
        assert t.queue_id in r.line

    # Disk: alice once (her two addresses), bob once, nothing for the
    # failures, nothing anywhere but new/ and tmp/.
    for u in ("alice", "bob"):
        files = read_new(os.path.join(homes, u, "Maildir"))
        assert len(files) == 1, u
        assert split_trace(files[0])[1] == msg
        check_maildir_names(os.path.join(homes, u, "Maildir"))
    for sub in ("new", "cur", "tmp"):
        assert listdir(os.path.join(homes, "full", "Maildir", sub)) == []
    with open(os.path.join(homes, "file", "Maildir")) as f:
        assert f.read() == "not a maildir\n"
    assert set(stray_files(homes)) == {"file/Maildir", "full/filler"}

    # Log: one line per recipient, in RCPT order, Postfix words.
    log = d.log()
    lines = deliveries(log, t.queue_id)
    assert [(x["to"], x["dsn"], x["status"]) for x in lines] == [
        ("alice@example.com", "2.0.0", "sent"),
        ("file@example.com", "4.3.0", "deferred"),
        ("full@example.com", "4.3.1", "deferred"),
        ("bob@example.com", "2.0.0", "sent"),
        ("alice@example.com", "2.0.0", "sent")]
    assert lines[0]["folder"] == "INBOX" and lines[1]["folder"] is None
    assert lines[4]["orig_to"] == "Alice@Example.COM"
    assert "Not a directory" in lines[1]["text"]
    assert "No space left on device" in lines[2]["text"]
    m = messages(log, t.queue_id)
    assert len(m) == 1 and m[0]["from"] == "sender@example.org"
    assert m[0]["nrcpt"] == "5" and int(m[0]["size"]) == len(msg)
    assert re.search(r"%s: reject: RCPT from unix: 550 5\.1\.1 .*to=<nobody@example\.com> "
                     r"\(not in users map\)" % t.queue_id, log)


@pytest.mark.fast
def test_python_smtplib_lmtp(lmtpd):
    """Python's smtplib.LMTP over the UNIX socket: sendmail() works for
    one recipient; with several, data() returns the first recipient's
    reply and getreply() reads the others (sendmail() would not)."""
    msg = make_message("smtplib")
    crlf = msg.replace(b"\n", b"\r\n")   # smtplib sends bytes as given
    with smtplib.LMTP(lmtpd.sock) as s:
        assert s.sendmail("py@example.org", ["one@example.com"], crlf) == {}
        s.ehlo_or_helo_if_needed()
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        assert s.mail("py@example.org")[0] == 250
        for a in ("two@example.com", "three@example.com"):
            assert s.rcpt(a)[0] == 250
        code, text = s.data(crlf)
        assert code == 250 and b"<two@example.com>" in text
        code, text = s.getreply()
        assert code == 250 and b"<three@example.com>" in text
        assert s.noop()[0] == 250
    for a in ("one@example.com", "two@example.com", "three@example.com"):
        assert [split_trace(f)[1] for f in read_new(lmtpd.maildir(a))] == [msg]


@pytest.mark.fast
def test_repeated_recipients_stored_once(lmtpd):
    """The same address (in any case) several times: one reply each, one
    file; a different detail is a different recipient."""
    rcpts = ["bob@example.com", "bob@example.com", "BOB@example.com",
             "bob+x@example.com", "bob@example.com"]
    t = lmtpd.deliver(rcpts, make_message("dup"))
    assert [r.code for r in t.rcpts] == [250] * 5
    assert [r.code for r in t.finals] == [250] * 5
    files = read_new(lmtpd.maildir("bob@example.com"))
    assert len(files) == 2
    assert sorted(trace_dict(split_trace(f)[0])["Delivered-To"] for f in files) == [
        "bob+x@example.com", "bob@example.com"]
    lines = deliveries(lmtpd.log(), t.queue_id)
    assert [x["status"] for x in lines] == ["sent"] * 5


@pytest.mark.fast
def test_delivered_to_quotes_local_part(lmtpd):
    """A local part that is not a Dot-string is quoted again in
    Delivered-To and the log's to= (RFC 5321 4.1.2, '"' and '\\'
    escaped), so the header holds one address: before, "x@y"@example.com
    became x@y@example.com.  Received's "for <...>" keeps the address as
    given; quotes a Dot-string does not need are dropped."""
    rcpts = ['"x@y"@example.com', '"A b"@example.com', '"q\\"t"@example.com',
             '"plain"@example.com']
    want = ['"x@y"@example.com', '"a b"@example.com', '"q\\"t"@example.com',
            "plain@example.com"]
    dirs = ["x@y", "a b", 'q"t', "plain"]
    t = lmtpd.deliver(rcpts, make_message("quoted"))
    assert t.final_codes() == [250] * 4
    for rcpt, canonical, local in zip(rcpts, want, dirs):
        [f] = read_new(os.path.join(lmtpd.mail, "example.com", local, "Maildir"))
        td = trace_dict(split_trace(f)[0])
        assert td["Delivered-To"] == canonical
        assert "\tfor <%s>; " % rcpt in td["Received"]
    # The log escapes a backslash as \x5c.
    lines = deliveries(lmtpd.log(), t.queue_id)
    assert [(x["to"], x["orig_to"]) for x in lines] == [
        ('"x@y"@example.com', None), ('"a b"@example.com', '"A b"@example.com'),
        ('"q\\x5c"t"@example.com', None), ("plain@example.com", '"plain"@example.com')]


@pytest.mark.fast
def test_pipelining_replies_in_order(lmtpd):
    """MAIL, 40 RCPTs (some refused) and DATA in one write: the replies
    come back in order, then one final reply per accepted recipient, in
    RCPT order."""
    rcpts = []
    for i in range(40):
        rcpts.append("bad/%d@example.com" % i if i % 7 == 3 else "u%02d@example.com" % i)
    msg = make_message("pipelined")
    with lmtpd.client() as c:
        c.lhlo()
        t = c.transaction("s@example.org", rcpts, msg, pipelined=True)
        c.quit()
    assert t.mail.code == 250
    for a, r in zip(rcpts, t.rcpts):
        assert "<%s>" % a in r.line
        assert (r.code, r.enh) == ((501, "5.1.3") if a.startswith("bad/") else (250, "2.1.5"))
    good = [a for a in rcpts if not a.startswith("bad/")]
    assert len(t.finals) == len(good)
    for a, r in zip(good, t.finals):
        assert r.code == 250 and "<%s>" % a in r.line
    for a in good:
        assert len(read_new(lmtpd.maildir(a))) == 1
    assert [x["to"] for x in deliveries(lmtpd.log(), t.queue_id)] == good


@pytest.mark.fast
def test_whole_session_in_one_write(lmtpd):
    """A client that sends everything at once (two transactions, RSET,
    NOOP, QUIT) still gets every reply in order."""
    m1, m2 = make_message("one"), make_message("two")
    data = (b"LHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.com>\r\n"
            b"RCPT TO:<y@example.com>\r\nDATA\r\n" + integlib.wire(m1) +
            b"RSET\r\nNOOP\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n" +
            integlib.wire(m2) + b"QUIT\r\n")
    with lmtpd.client() as c:
        c.send(data)
        codes = [c.reply().code for _ in range(15)]
        assert c.at_eof()
    assert codes == [220, 250, 250, 250, 250, 354, 250, 250, 250, 250, 250, 250, 354,
                     250, 221]
    x = read_new(lmtpd.maildir("x@example.com"))
    assert sorted(split_trace(f)[1] for f in x) == sorted([m1, m2])
    assert [split_trace(f)[1] for f in read_new(lmtpd.maildir("y@example.com"))] == [m1]
    # The null sender is written as Return-Path: <>.
    rp = sorted(trace_dict(split_trace(f)[0])["Return-Path"] for f in x)
    assert rp == ["<>", "<a@example.org>"]


@pytest.mark.fast
def test_dot_stuffing_round_trip(lmtpd):
    """Lines starting with '.', '..', a lone '.' inside a line and a
    last line '.': unstuffed byte for byte; an empty message works."""
    body = (b".\n..\n...\n.hidden line\nword . word\n . \n.\t\nends with a dot.\n"
            b"..double\n\n.\n")
    msg = make_message("dots", body)
    t = lmtpd.deliver(["dots@example.com"], msg)
    assert t.final_codes() == [250]
    files = read_new(lmtpd.maildir("dots@example.com"))
    assert [split_trace(f)[1] for f in files] == [msg]
    [line] = deliveries(lmtpd.log(), t.queue_id)
    assert (line["to"], line["status"]) == ("dots@example.com", "sent")
    assert int(messages(lmtpd.log(), t.queue_id)[0]["size"]) == len(msg)

    # The wire form is what smtplib-style clients send; check it, too.
    assert b"\r\n..\r\n...\r\n....\r\n..hidden" in integlib.wire(msg)

    # DATA followed at once by the end marker: an empty message.
    with lmtpd.client() as c:
        c.lhlo()
        t = c.transaction("s@example.org", ["empty@example.com"], b".\r\n", raw=True)
        c.quit()
    assert t.final_codes() == [250]
    [f] = read_new(lmtpd.maildir("empty@example.com"))
    assert split_trace(f)[1] == b""


@pytest.mark.fast
def test_8bit_utf8_and_smtputf8(lmtpd):
    """Every byte value 0x80-0xFF and UTF-8 text arrive unchanged; SMTPUTF8
    addresses are accepted (and refused without SMTPUTF8); the Maildir
    path keeps the UTF-8 name, case-folded (Unicode too, as Postfix
    folds its lookup keys): DÖRTE@EXÄMPLE.COM is the same mailbox."""
    eight = bytes(range(0x80, 0x100))
    body = "Grüße, naïve café, 日本語, emoji 📬\n".encode() + eight + b"\n"
    msg = make_message("8bit", body, extra_headers=["X-Utf8: Jürgen Größe"])
    t = lmtpd.deliver(["eight@example.com"], msg, mail_params="BODY=8BITMIME")
    assert t.final_codes() == [250]
    [f] = read_new(lmtpd.maildir("eight@example.com"))
    assert split_trace(f)[1] == msg

    sender, rcpt = "jösé@exämple.org", "Dörte@exämple.com"
    with lmtpd.client() as c:
        c.lhlo()
        refused = c.transaction(sender, [rcpt], msg)
        assert refused.mail.code == 553 and refused.mail.enh == "5.6.7"
        c.cmd("RSET")
        t = c.transaction(sender, [rcpt], msg, mail_params="SMTPUTF8 BODY=8BITMIME")
        c.quit()
    assert t.mail.code == 250 and [r.code for r in t.rcpts] == [250]
    assert t.final_codes() == [250]
    # In an SMTPUTF8 transaction the replies show the addresses as sent
    # (RFC 6531 3.7.4.2), not as '?'.
    assert "<%s>" % sender in t.mail.line and "<%s>" % rcpt in t.rcpts[0].line
    assert "<%s>" % rcpt in t.finals[0].line
    md = os.path.join(lmtpd.mail, "exämple.com", "dörte", "Maildir")
    [f] = read_new(md)
    trace, rest = split_trace(f)
    assert rest == msg
    td = trace_dict(trace)
    assert td["Return-Path"] == "<%s>" % sender
    assert td["Delivered-To"] == "dörte@exämple.com"
    assert "with UTF8LMTP id %s" % t.queue_id in td["Received"]
    [line] = deliveries(lmtpd.log(), t.queue_id)
    assert line["to"] == "dörte@exämple.com" and line["orig_to"] == rcpt

    with lmtpd.client() as c:
        c.lhlo()
        t = c.transaction(sender, ["DÖRTE+Post@EXÄMPLE.COM", "Straße@exämple.com"], msg,
                          mail_params="SMTPUTF8 BODY=8BITMIME")
        c.quit()
    assert t.final_codes() == [250, 250]
    assert len(read_new(md)) == 2
    assert len(read_new(os.path.join(lmtpd.mail, "exämple.com", "strasse", "Maildir"))) == 1
    assert "EXÄMPLE.COM" not in os.listdir(lmtpd.mail)
    lines = deliveries(lmtpd.log(), t.queue_id)
    assert [x["to"] for x in lines] == ["dörte+post@exämple.com", "strasse@exämple.com"]


@pytest.mark.fast
def test_bdat_chunking(lmtpd):
    """BDAT in several chunks (a CRLF split across two, dots left alone,
    BDAT 0 LAST), a single BDAT LAST, and BDAT without recipients."""
    with lmtpd.client() as c:
        r = c.lhlo()
        assert "250-CHUNKING" in r.lines
        chunks = [b"Subject: chunked\r\nX-A: 1\r", b"\n\r\n.line one\r\n..two\r\n",
                  b"a bare CR\rstays\r\nlast line\r\n", b""]
        t = c.bdat_transaction("s@example.org", ["c1@example.com", "c2@example.com"], chunks)
        assert t.mail.code == 250 and [r.code for r in t.rcpts] == [250, 250]
        assert [r.line for r in t.bdat] == ["250 2.0.0 %d octets received" % len(x)
                                            for x in chunks[:-1]]
        assert [(r.code, r.enh) for r in t.finals] == [(250, "2.0.0")] * 2

        one = b"Subject: one chunk\r\n\r\nbody\r\n"
        t2 = c.bdat_transaction("s@example.org", ["c3@example.com"], [one], pipelined=False)
        assert t2.final_codes() == [250]

        # No recipients: the chunk is read and refused, the session goes on.
        c.send(b"MAIL FROM:<s@example.org>\r\nBDAT 5 LAST\r\nhello")
        assert c.reply().code == 250
        r = c.reply()
        assert (r.code, r.enh) == (503, "5.5.1")
        assert c.cmd("NOOP").code == 250
        c.quit()
    expect = b"Subject: chunked\nX-A: 1\n\n.line one\n..two\na bare CR\rstays\nlast line\n"
    for a in ("c1@example.com", "c2@example.com"):
        [f] = read_new(lmtpd.maildir(a))
        assert split_trace(f)[1] == expect
    [f] = read_new(lmtpd.maildir("c3@example.com"))
    assert split_trace(f)[1] == b"Subject: one chunk\n\nbody\n"
    assert [x["status"] for x in deliveries(lmtpd.log(), t.queue_id)] == ["sent", "sent"]
    assert stray_files(lmtpd.mail) == []


@pytest.mark.fast
def test_refused_bdat_chunk_over_several_reads(lmtpd):
    """A BDAT chunk refused for want of recipients is still read whole and
    answered 503. Its bytes arrive over several reads; before, the DATA
    deadline was measured from a DATA that never started, so the first
    wait for more bytes timed out at once with 421 4.4.2."""
    big = b"x" * 300000
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<bad>\r\n"
               b"BDAT %d LAST\r\n" % len(big) + big)
        assert c.reply().code == 250
        assert c.reply().code == 501
        r = c.reply()
        assert (r.code, r.enh) == (503, "5.5.1"), r
        # No MAIL at all, and the chunk's second half after a pause.
        c.send(b"BDAT 20 LAST\r\n" + b"y" * 10)
        time.sleep(0.5)
        c.send(b"y" * 10)
        r = c.reply()
        assert (r.code, r.enh) == (503, "5.5.1"), r
        assert c.cmd("NOOP").code == 250
        c.quit()
    assert "timeout" not in lmtpd.log()


@pytest.mark.fast
def test_orcpt_up_to_rfc_3461_length(lmtpd):
    """RFC 3461 4.2 lets ORCPT's value reach 500 characters: one of 500 is
    taken whole (X-Original-To has it), one of 501 is refused with 501
    5.5.4 for that recipient only; before, anything past 256 decoded
    bytes was refused, bouncing recipients a relay had every right to
    pass on."""
    local = "o" * (500 - len("rfc822;") - len("@example.net"))
    ok = "ORCPT=rfc822;%s@example.net" % local
    too_long = "ORCPT=rfc822;%so@example.net" % local
    msg = make_message("long orcpt", "body\r\n")
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\n"
               b"RCPT TO:<long@example.com> " + ok.encode() + b"\r\n"
               b"RCPT TO:<longer@example.com> " + too_long.encode() + b"\r\n"
               b"DATA\r\n")
        replies = [c.reply() for _ in range(4)]
        assert [r.code for r in replies] == [250, 250, 501, 354], replies
        assert replies[2].enh == "5.5.4"
        c.send(integlib.wire(msg))
        assert c.reply().code == 250
        c.quit()
    [f] = read_new(lmtpd.maildir("long@example.com"))
    trace, _ = split_trace(f)
    assert trace_dict(trace)["X-Original-To"] == "%s@example.net" % local
    assert read_new(lmtpd.maildir("longer@example.com")) == []


@pytest.mark.fast
def test_prepended_headers_and_lf_endings(lmtpd):
    """Return-Path, X-Original-To (from ORCPT), Delivered-To and Received
    (with the LMTP id of the replies and the log) come first, in that
    order; the file has LF line ends and a Dovecot-style name."""
    msg = make_message("headers", "line one\r\nline two\r\n")
    with lmtpd.client() as c:
        c.lhlo("mx.client.example")
        t = c.transaction("Sender@Example.org", ["Rcpt+Box@example.com", "plain@example.com"],
                          msg, rcpt_params=["ORCPT=rfc822;Orig+2BBox@example.net NOTIFY=NEVER",
                                            ""])
        c.quit()
    assert t.final_codes() == [250, 250]
    qid = t.queue_id
    [f] = read_new(lmtpd.maildir("rcpt@example.com"))
    assert b"\r" not in f
    trace, rest = split_trace(f)
    assert rest == msg.replace(b"\r\n", b"\n")
    assert [h.split(b":")[0] for h in trace] == [b"Return-Path", b"X-Original-To",
                                                  b"Delivered-To", b"Received"]
    td = trace_dict(trace)
    assert td["Return-Path"] == "<Sender@Example.org>"
    assert td["X-Original-To"] == "Orig+Box@example.net"
    assert td["Delivered-To"] == "rcpt+box@example.com"
    rcv = td["Received"]
    assert re.match(r"from mx\.client\.example \(unix\)\n\tby lmtpd\.test \(lmtpd\) "
                    r"with LMTP id %s\n\t\(envelope-from <Sender@Example\.org>\)\n"
                    r"\tfor <Rcpt\+Box@example\.com>; \w{3}, \d\d \w{3} \d{4} "
                    r"\d\d:\d\d:\d\d [+-]\d{4}$" % qid, rcv), rcv
    [p] = read_new(lmtpd.maildir("plain@example.com"))
    ptrace = trace_dict(split_trace(p)[0])
    assert "X-Original-To" not in ptrace and ptrace["Delivered-To"] == "plain@example.com"

    [path] = maildir_new(lmtpd.maildir("rcpt@example.com"))
    name = os.path.basename(path)
    m = re.match(r"^\d+\.M\d{6}P\d+Q\d+\.lmtpd\.test,S=(\d+),W=(\d+)$", name)
    assert m, name
    assert int(m.group(1)) == len(f) and int(m.group(2)) == len(f) + f.count(b"\n")

    log = lmtpd.log()
    [mline] = messages(log, qid)
    assert mline["from"] == "Sender@Example.org" and mline["nrcpt"] == "2"
    assert mline["msgid"] and mline["msgid"].startswith("<headers.")
    assert int(mline["size"]) == len(msg.replace(b"\r\n", b"\n"))
    lines = deliveries(log, qid)
    assert [(x["to"], x["orig_to"]) for x in lines] == [
        ("rcpt+box@example.com", "Orig+Box@example.net"), ("plain@example.com", None)]
    for x in lines:
        assert x["folder"] == "INBOX" and x["dsn"] == "2.0.0"
        assert x["text"] == "delivered to maildir"
        assert len(x["delays"].split("/")) == 4


@pytest.mark.fast
def test_lhlo_mid_transaction_starts_over(lmtpd):
    """A second LHLO aborts the transaction (RFC 5321 4.1.4): DATA then
    needs a new MAIL, and the next message's Received names the new
    client, not the first one."""
    msg = make_message("second greeting")
    with lmtpd.client() as c:
        c.lhlo("first.example")
        assert c.cmd("MAIL FROM:<s@example.org>").code == 250
        assert c.cmd("RCPT TO:<again@example.com>").code == 250
        c.lhlo("second.example")
        assert c.cmd("DATA").code == 503
        t = c.transaction("s@example.org", ["again@example.com"], msg)
        c.quit()
    assert t.final_codes() == [250]
    [f] = read_new(lmtpd.maildir("again@example.com"))
    rcv = trace_dict(split_trace(f)[0])["Received"]
    assert rcv.startswith("from second.example (unix)"), rcv


@pytest.mark.fast
def test_parser_refusals_logged(lmtpd):
    """A MAIL or RCPT refused for its syntax, parameters or characters is
    logged with the reply and the command (escaped), as the refusals after
    the lookup are: the admin sees why the MTA bounced a recipient."""
    with lmtpd.client() as c:
        c.lhlo()
        assert c.cmd("MAIL FROM:").code == 501
        assert c.cmd("MAIL FROM:<s@example.org>").code == 250
        assert c.cmd("RCPT TO:<no-domain>").code == 501
        assert c.cmd("RCPT TO:<x@example.com> FOO=1").code == 555
        assert c.cmd("RCPT TO:<\u00e9t\u00e9@example.com>").code == 553
        c.quit()
    log = lmtpd.log()
    assert re.search(r"NOQUEUE: reject: MAIL from unix: 501 5\.1\.7 Bad sender address "
                     r"syntax; command: MAIL FROM:$", log, re.M), log
    qid = re.search(r"(\w+): reject: RCPT from unix: 501 5\.1\.3 Bad recipient address "
                    r"syntax; command: RCPT TO:<no-domain>$", log, re.M)
    assert qid and qid.group(1) != "NOQUEUE", log
    assert re.search(r"%s: reject: RCPT from unix: 555 5\.5\.4 Unsupported option: FOO; "
                     r"command: RCPT TO:<x@example\.com> FOO=1$" % qid.group(1), log, re.M), log
    assert re.search(r"%s: reject: RCPT from unix: 553 5\.6\.7 Non-ASCII recipient requires "
                     r"SMTPUTF8; command: RCPT TO:<\S+@example\.com>$" % qid.group(1),
                     log, re.M), log
