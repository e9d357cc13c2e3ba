"""Real peers against the real daemon: swaks, Postfix's smtp-source -L,
a private Postfix relaying by LMTP, and Dovecot's IMAP server reading the
Maildirs back (STYLE 3.7)."""
import imaplib
import os
import re
import signal
import smtplib
import subprocess

import pytest

import integlib
from integlib import (check_maildir_names, deliveries, make_message, messages, read_new,
                      split_trace, trace_dict, wait_for)
from peers import Dovecot, have
from test_protocol import compile_map

pytestmark = pytest.mark.peers


@pytest.fixture
def dovecot(workdir, lmtpd):
    if not have("dovecot"):
        pytest.skip("dovecot-imapd is not installed (./quickstart deps)")
    dc = Dovecot(workdir, lmtpd.mail, integlib.RUN_USER)
    try:
        yield dc
    finally:
        dc.stop()


def test_swaks_lmtp(lmtpd):
    """swaks --protocol LMTP over the UNIX socket, two recipients: swaks
    reads both per-recipient replies and exits 0; both copies are on disk
    and logged."""
    if not have("swaks"):
        pytest.skip("swaks is not installed")
    r = subprocess.run(["swaks", "--protocol", "LMTP", "--socket", lmtpd.sock,
                        "--helo", "swaks.client.example",
                        "--from", "swaks@example.org",
                        "--to", "bob@example.com,carol@example.com",
                        "--header", "Subject: swaks test",
                        "--body", "Hello from swaks.\n.leading dot line"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for a in ("bob@example.com", "carol@example.com"):
        assert re.search(r"<-  250 2\.0\.0 <%s> [0-9A-F]+ Saved" % re.escape(a), out), out
        [f] = read_new(lmtpd.maildir(a))
        trace, rest = split_trace(f)
        td = trace_dict(trace)
        assert td["Return-Path"] == "<swaks@example.org>" and td["Delivered-To"] == a
        assert td["Received"].startswith("from swaks.client.example (unix)")
        assert b"Subject: swaks test\n" in rest and b"X-Mailer: swaks" in rest
        assert b"\n\nHello from swaks.\n.leading dot line\n" in rest
    assert {x["to"] for x in deliveries(lmtpd.log()) if x["status"] == "sent"} == {
        "bob@example.com", "carol@example.com"}


def test_smtp_source_2000_messages(lmtpd_factory):
    """smtp-source -L: 2000 messages over 16 parallel sessions; every one
    is accounted for: 2000 complete files with distinct Message-IDs, 2000
    from= lines and 2000 status=sent lines."""
    if not have("smtp-source"):
        pytest.skip("smtp-source (postfix) is not installed")
    d = lmtpd_factory(workers="16")
    r = subprocess.run(["smtp-source", "-L", "-s", "16", "-m", "2000", "-c", "-l", "5000",
                        "-f", "sender@example.com", "-t", "rcpt@example.com",
                        "unix:" + d.sock], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2000" in r.stdout
    md = d.maildir("rcpt@example.com")
    files = read_new(md)
    assert len(files) == 2000
    check_maildir_names(md)
    ids = set()
    bodies = set()
    for f in files:
        trace, rest = split_trace(f)
        assert trace_dict(trace)["Delivered-To"] == "rcpt@example.com"
        # smtp-source sends the same 5000-byte body every time: any torn,
        # truncated or mixed-up copy would differ.
        bodies.add(rest.split(b"\n\n", 1)[1])
        m = re.search(rb"^Message-Id: (<[^>]+>)$", rest, re.M)
        assert m, rest[:300]
        ids.add(m.group(1))
    assert len(ids) == 2000
    [body] = bodies
    # 5000 bytes on the wire with CRLF; stored with LF.
    assert len(body) + body.count(b"\n") >= 5000, body[:200]
    assert body.startswith(b"1XXXX") and not body.count(b"\r"), body[:200]
    # Every connection is accepted and delivered before smtp-source exits,
    # so the log is complete by now.
    log = d.log()
    assert len(messages(log)) == 2000
    assert {m["from"] for m in messages(log)} == {"sender@example.com"}
    sent = [x for x in deliveries(log) if x["to"] == "rcpt@example.com"]
    assert len(sent) == 2000 and {x["status"] for x in sent} == {"sent"}


def test_postfix_sends_orcpt_for_an_alias(workdir, postfix, lmtpd):
    """Mail to an alias of Postfix (virtual_alias_maps) reaches lmtpd with
    RCPT TO the real user and ORCPT the alias (lmtpd advertises DSN for
    that): the copy carries X-Original-To with the alias, and lmtpd's
    delivery line has orig_to=<alias>, as Postfix's own local(8) logs."""
    postfix.start()
    msg = make_message("to the info alias", "Sent to info@, kept by alice.\n")
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as s:
        s.sendmail("sender@example.org", ["info@example.com"], msg.replace(b"\n", b"\r\n"))
    wait_for(lambda: len(postfix.sent_lines()) >= 1, 60,
             what="a status=sent line in %s:\n%s" % (postfix.maillog, postfix.log()))
    [(to, relay, text)] = postfix.sent_lines()
    assert to == "alice@example.com", postfix.log()
    assert re.search(r"to=<alice@example\.com>, orig_to=<info@example\.com>, ", postfix.log())
    [data] = read_new(lmtpd.maildir("alice@example.com"))
    head = data.split(b"\n\n", 1)[0]
    assert b"\nX-Original-To: info@example.com\n" in b"\n" + head + b"\n", head
    assert b"Delivered-To: alice@example.com" in head, head
    lmtpd.wait_log(r"to=<alice@example\.com>, orig_to=<info@example\.com>, .*status=sent")


def test_postfix_relays_by_lmtp(workdir, postfix, lmtpd):
    """A real Postfix (private instance, loopback) relays mail for
    example.com to lmtpd by LMTP over the UNIX socket: its maillog says
    status=sent for each recipient, the files exist, and an unknown user
    is bounced by Postfix from lmtpd's 550 5.1.1."""
    users = compile_map(os.path.join(workdir, "users"), "".join(
        "%s@example.com home=%s/%s\n" % (u, lmtpd.mail + "/example.com", u)
        for u in ("alice", "bob", "carol")))
    lmtpd.write_config(users=users)
    lmtpd.signal(signal.SIGHUP)
    lmtpd.wait_log(r"reloaded configuration")
    postfix.start()

    msgs = [
        (["alice@example.com"], make_message("via postfix one", "First.\n.dot line\n")),
        (["bob@example.com", "carol@example.com"], make_message("via postfix two",
                                                                  "Second, two recipients.\n")),
        (["alice@example.com"], make_message("via postfix three", "Grüße, 8-bit body.\n")),
    ]
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as s:
        for rcpts, m in msgs:
            s.sendmail("sender@example.org", rcpts, m.replace(b"\n", b"\r\n"))
        # The null sender: its bounce is dropped, nothing else to clean up.
        s.sendmail("", ["nobody@example.com"], make_message("to nobody"))
    wait_for(lambda: len(postfix.sent_lines()) >= 4, 60,
             what="4 status=sent lines in %s:\n%s" % (postfix.maillog, postfix.log()))
    wait_for(lambda: "status=bounced" in postfix.log(), 30, what="the bounce")
    log = postfix.log()
    sent = postfix.sent_lines()
    assert sorted(x[0] for x in sent) == ["alice@example.com", "alice@example.com",
                                          "bob@example.com", "carol@example.com"]
    for to, relay, text in sent:
        assert lmtpd.sock in relay, relay
        assert re.match(r"250 2\.0\.0 <%s> [0-9A-F]+ Saved" % re.escape(to), text), text
    assert re.search(r"to=<nobody@example\.com>, .*status=bounced \(host .* said: "
                     r"550 5\.1\.1 <nobody@example\.com>", log), log

    alice = [split_trace(f)[1] for f in read_new(lmtpd.maildir("alice@example.com"))]
    assert len(alice) == 2
    for rcpts, m in msgs:
        for a in rcpts:
            got = [split_trace(f)[1] for f in read_new(lmtpd.maildir(a))]
            # Postfix adds its own trace headers; the original follows.
            assert any(g.endswith(m) and b"by mx.example.net (Postfix)" in g for g in got), a
    lines = deliveries(lmtpd.log())
    assert sorted(x["to"] for x in lines if x["status"] == "sent") == [
        "alice@example.com", "alice@example.com", "bob@example.com", "carol@example.com"]
    assert re.search(r"reject: RCPT from unix: 550 5\.1\.1 .*to=<nobody@example\.com>",
                     lmtpd.log())


def _fetch_all(imap):
    typ, data = imap.fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK", data
    out = []
    for item in data:
        if isinstance(item, tuple):
            meta, body = item
            size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))
            out.append((size, body))
    return out


def test_dovecot_reads_back_identical(lmtpd, dovecot):
    """Dovecot's IMAP server (own config, static userdb on lmtpd's
    Maildirs, password login) returns each delivered message identical to
    what was sent once the headers lmtpd prepends are taken off and line
    ends are normalised; RFC822.SIZE (from the W= in the file name)
    matches the bytes served."""
    sent = [
        make_message("imap plain", "Plain text.\n"),
        make_message("imap dots", ".\n..\n.leading\nmiddle . dot\n"),
        make_message("imap utf8", "Grüße aus Köln, 日本語 ✉\n" + "long line " * 500 + "\n",
                     extra_headers=["X-Folded: first", "\tsecond part",
                                    "Content-Type: text/plain; charset=utf-8",
                                    "Content-Transfer-Encoding: 8bit"]),
        make_message("imap mime", "--b\nContent-Type: text/plain\n\npart one\n--b--\n",
                     extra_headers=["MIME-Version: 1.0",
                                    'Content-Type: multipart/mixed; boundary="b"']),
    ]
    with lmtpd.client() as c:
        c.lhlo()
        for m in sent:
            t = c.transaction("sender@example.org", ["reader@example.com"], m,
                              mail_params="BODY=8BITMIME")
            assert t.final_codes() == [250]
        c.quit()
    on_disk = read_new(lmtpd.maildir("reader@example.com"))
    assert len(on_disk) == len(sent)

    dovecot.start()
    imap = imaplib.IMAP4("127.0.0.1", dovecot.port)
    try:
        typ, _ = imap.login("reader@example.com", "pass")
        assert typ == "OK"
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) == len(sent), (data, dovecot.log())
        fetched = _fetch_all(imap)
        imap.logout()
    except Exception:
        print(dovecot.log())
        raise
    assert len(fetched) == len(sent)
    got = []
    for size, body in fetched:
        assert size == len(body)
        normalised = body.replace(b"\r\n", b"\n")
        assert normalised in on_disk
        trace, rest = split_trace(normalised)
        assert [h.split(b":")[0] for h in trace] == [b"Return-Path", b"Delivered-To",
                                                      b"Received"]
        got.append(rest)
    assert sorted(got) == sorted(sent)


def test_dovecot_serves_cr_before_line_end(lmtpd, dovecot):
    """A line that ends in a bare CR before the CRLF is stored as "\\r\\n":
    the W= in the file name must count that line end as Dovecot does (no
    CR added), or Dovecot finds the file shorter than RFC822.SIZE, renames
    it and drops the client mid-FETCH."""
    body = b"line one\r\r\n" * 50 + b"bare CR\r in the middle\r\n"
    message = make_message("cr before crlf", body="").replace(b"\n", b"\r\n")
    message += body + b".\r\n"
    with lmtpd.client() as c:
        c.lhlo()
        t = c.transaction("sender@example.org", ["reader@example.com"], message,
                          raw=True)
        assert t.final_codes() == [250]
        c.quit()
    on_disk = read_new(lmtpd.maildir("reader@example.com"))
    assert len(on_disk) == 1 and on_disk[0].endswith(b"line one\r\n" * 50 +
                                                     b"bare CR\r in the middle\n")

    dovecot.start()
    imap = imaplib.IMAP4("127.0.0.1", dovecot.port)
    try:
        assert imap.login("reader@example.com", "pass")[0] == "OK"
        assert imap.select("INBOX", readonly=True)[0] == "OK"
        fetched = _fetch_all(imap)
        imap.logout()
    except Exception:
        print(dovecot.log())
        raise
    assert len(fetched) == 1
    size, served = fetched[0]
    assert size == len(served)
    assert served.replace(b"\r\n", b"\n") == on_disk[0].replace(b"\r\n", b"\n")
    assert "wrong W value" not in dovecot.log()
