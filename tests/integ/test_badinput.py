"""Hostile and broken input (DESIGN invariant 5; the cases of Redis's
protocol.tcl and Dovecot's test-smtp-server-errors.c): each gets a clear
reply or a clean delivery, the session or the daemon survives, no worker
dies (the fixture checks the log for "killed by signal"), and nothing is
left outside tmp/."""
import os
import random
import re
import threading
import time

import pytest

import integlib
from integlib import (ConnectionClosed, all_files, deliveries, make_message, messages,
                      read_new, split_trace, stray_files, wait_for)


def no_leftovers(d):
    """Nothing under the mail root but delivered messages in new/; tmp/
    is empty too (lmtpd writes through O_TMPFILE)."""
    assert stray_files(d.mail) == []
    assert [f for f in all_files(d.mail) if os.sep + "tmp" + os.sep in os.sep + f] == []


@pytest.mark.fast
def test_bare_lf_and_smuggling(lmtpd):
    """Only CRLF.CRLF ends DATA: bare LF (and ".\\n", "\\n.\\r\\n",
    ".\\r" at a line start) never ends it, so commands hidden in the data
    stay data (no SMTP smuggling).  Bare LF is stored as LF."""
    data = (b"Subject: smuggle\r\n\r\n"
            b"bare\nlf\r\n"
            b"one\n.\r\nMAIL FROM:<x@example.org>\r\n"
            b"two\r\n.\nRCPT TO:<victim@example.com>\r\n"
            b"three\r\n.\rDATA\r\n"
            b"end\r\n.\r\n")
    stored = (b"Subject: smuggle\n\nbare\nlf\none\n.\nMAIL FROM:<x@example.org>\n"
              b"two\n\nRCPT TO:<victim@example.com>\nthree\n\rDATA\nend\n")
    with lmtpd.client() as c:
        c.lhlo()
        t = c.transaction("s@example.org", ["lf@example.com"], data, raw=True)
        assert t.final_codes() == [250]
        # Exactly one final reply: the next reply answers NOOP.
        r = c.cmd("NOOP")
        assert r.line == "250 2.0.0 Ok"
        c.quit()
    [f] = read_new(lmtpd.maildir("lf@example.com"))
    assert split_trace(f)[1] == stored
    assert not os.path.exists(lmtpd.maildir("victim@example.com"))
    assert len(messages(lmtpd.log())) == 1
    no_leftovers(lmtpd)


@pytest.mark.fast
def test_nul_bytes(lmtpd):
    """NUL in the data is stored unchanged; NUL in a command line gets 500
    and the session goes on."""
    body = b"nul\x00byte\n\x00\x00\nend\n"
    msg = make_message("nul", body)
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"NOOP\x00\r\n")
        r = c.reply()
        assert (r.code, r.enh) == (500, "5.5.2") and "NUL" in r.line
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<a\x00b@example.com>\r\n")
        assert c.reply().code == 250
        r = c.reply()
        assert r.code == 500
        c.send(b"RCPT TO:<nul@example.com>\r\nDATA\r\n")
        assert c.reply().code == 250
        assert c.reply().code == 354
        c.send(integlib.wire(msg))
        assert c.reply().code == 250
        c.quit()
    [f] = read_new(lmtpd.maildir("nul@example.com"))
    assert split_trace(f)[1] == msg
    no_leftovers(lmtpd)


@pytest.mark.fast
def test_folded_first_line(lmtpd):
    """A message whose first line is folded (starts with a space or tab)
    has no header section; unchanged, that line would continue lmtpd's
    Received field.  As Postfix's cleanup does, an empty line goes in
    front of it, so its lines are the body; the log says so."""
    msg = b" X-Spam-Flag: NO\n\tmore\nSubject: looks like a header\n\nbody\n"
    t = lmtpd.deliver(["folded@example.com"], msg)
    assert t.final_codes() == [250]
    [f] = read_new(lmtpd.maildir("folded@example.com"))
    trace, rest = split_trace(f)
    assert rest == b"\n" + msg
    assert trace[-1].startswith(b"Received:") and b"X-Spam-Flag" not in trace[-1]
    assert re.search(r"%s: message starts with a folded line" % t.queue_id, lmtpd.log())
    # A message that starts with a header is left as it is.
    t = lmtpd.deliver(["plain@example.com"], b"Subject: s\n\nbody\n")
    [f] = read_new(lmtpd.maildir("plain@example.com"))
    assert split_trace(f)[1] == b"Subject: s\n\nbody\n"
    no_leftovers(lmtpd)


@pytest.mark.fast
def test_client_gone_before_final_replies(lmtpd):
    """A client that sends a whole transaction and leaves: once a final
    reply can not be sent, the recipients after it are not delivered
    (the MTA sends the message again, so a copy now would be a duplicate;
    they are logged as deferred), and the pipelined commands after the
    data are not run."""
    rcpts = ["gone%d@example.com" % i for i in range(6)]
    msg = make_message("gone")
    c = lmtpd.client()
    c.lhlo()
    c.send(b"MAIL FROM:<s@example.org>\r\n" +
           b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
    for _ in range(len(rcpts) + 2):
        c.reply()
    c.send(integlib.wire(msg) + b"MAIL FROM:<s@example.org>\r\nRCPT TO:<late@example.com>\r\n"
           b"DATA\r\n" + integlib.wire(msg))
    c.close()
    wait_for(lambda: "lost connection while sending final replies" in lmtpd.log(), 20,
             what="the lost-connection line")
    wait_for(lambda: "disconnect from" in lmtpd.log(), 20, what="the disconnect line")
    delivered = [r for r in rcpts if os.path.exists(lmtpd.maildir(r))
                 and read_new(lmtpd.maildir(r))]
    assert delivered and delivered == rcpts[:len(delivered)] and len(delivered) < len(rcpts)
    for line in deliveries(lmtpd.log()):
        if line["to"] in rcpts[len(delivered):]:
            assert line["status"] == "deferred"
    assert not os.path.exists(lmtpd.maildir("late@example.com"))
    no_leftovers(lmtpd)


def test_ten_megabyte_line(lmtpd):
    """A 10 MB line in the body (spooled to disk past 1 MB) is delivered
    byte for byte."""
    msg = b"Subject: long line\n\n" + b"a" * (10 * 1024 * 1024) + b"\nend\n"
    t = lmtpd.deliver(["long@example.com"], msg, mail_params="SIZE=%d" % len(msg))
    assert t.final_codes() == [250]
    [f] = read_new(lmtpd.maildir("long@example.com"))
    assert split_trace(f)[1] == msg
    [m] = messages(lmtpd.log(), t.queue_id)
    assert int(m["size"]) == len(msg)
    no_leftovers(lmtpd)


def test_one_megabyte_header(lmtpd):
    """A 1 MB header line and a header folded over 20000 lines: delivered
    intact, and the headers after them are still found (msgid= logged)."""
    big = b"X-Big: " + b"b" * (1024 * 1024)
    folded = b"X-Folded: start" + b"".join(b"\n\tfold %05d" % i for i in range(20000))
    msg = (b"From: <s@example.org>\n" + big + b"\n" + folded + b"\n"
           b"Message-ID: <after-the-big-ones@example.org>\nSubject: big header\n\nbody\n")
    t = lmtpd.deliver(["hdr@example.com"], msg)
    assert t.final_codes() == [250]
    [f] = read_new(lmtpd.maildir("hdr@example.com"))
    assert split_trace(f)[1] == msg
    [m] = messages(lmtpd.log(), t.queue_id)
    assert m["msgid"] == "<after-the-big-ones@example.org>"
    no_leftovers(lmtpd)


def test_five_thousand_recipients(lmtpd):
    """5000 RCPTs in one pipelined write: the first max_recipients (1000)
    get 250, the excess 452 4.5.3; DATA then gets 1000 final replies; ten
    distinct users get one copy each."""
    users = ["r%d@example.com" % i for i in range(10)]
    rcpts = [users[i % 10] for i in range(5000)]
    msg = make_message("many")
    cmds = b"MAIL FROM:<s@example.org>\r\n" + b"".join(
        b"RCPT TO:<%s>\r\n" % a.encode() for a in rcpts) + b"DATA\r\n"
    with lmtpd.client(timeout=60) as c:
        c.lhlo()
        # The replies outgrow the socket buffers: read while writing.
        sender = threading.Thread(target=c.sock.sendall, args=(cmds,))
        sender.start()
        assert c.reply().code == 250
        replies = c.replies(5000)
        sender.join()
        assert [r.code for r in replies[:1000]] == [250] * 1000
        assert {(r.code, r.enh) for r in replies[1000:]} == {(452, "4.5.3")}
        assert c.reply().code == 354
        c.send(integlib.wire(msg))
        finals = c.replies(1000)
        assert [r.code for r in finals] == [250] * 1000
        for a, r in zip(rcpts, finals):
            assert "<%s>" % a in r.line
        assert c.cmd("NOOP").code == 250
        c.quit()
    # Each refused RCPT leaves a reject line, as Postfix's smtpd does.
    refused = re.findall(r": reject: RCPT from unix: 452 4\.5\.3 <(r\d)@example\.com> "
                         r"Too many recipients; to=<\1@example\.com> \(max_recipients reached\)$",
                         lmtpd.log(), re.M)
    assert refused == [a.split("@")[0] for a in rcpts[1000:]]
    for u in users:
        assert [split_trace(f)[1] for f in read_new(lmtpd.maildir(u))] == [msg]
    qid = re.search(r"> ([0-9A-F]+) ", finals[0].line).group(1)
    lines = deliveries(lmtpd.log(), qid)
    assert len(lines) == 1000 and {x["status"] for x in lines} == {"sent"}
    no_leftovers(lmtpd)


@pytest.mark.fast
def test_disconnect_mid_data(lmtpd):
    """A client that goes away in the middle of DATA or of a BDAT chunk:
    nothing is delivered, nothing is left behind, the loss is logged, and
    the next client is served."""
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<cut@example.com>\r\nDATA\r\n")
        assert [c.reply().code for _ in range(3)] == [250, 250, 354]
        c.send(b"Subject: cut\r\n\r\n" + b"partial line\r\n" * 5000 + b"no end")
    lmtpd.wait_log(r"lost connection after DATA \(\d+ bytes\) from unix")
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<cut@example.com>\r\n"
               b"BDAT 100000 LAST\r\nonly a few bytes")
        assert [c.reply().code for _ in range(2)] == [250, 250]
    lmtpd.wait_log(r"lost connection after BDAT \(\d+ bytes\) from unix")
    # Past SPOOL_MEMORY_MAX (1 MB) the message is spooled to a file in
    # state_dir; a cut there leaves no file behind either.
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<cut@example.com>\r\nDATA\r\n")
        assert [c.reply().code for _ in range(3)] == [250, 250, 354]
        c.send(b"Subject: big cut\r\n\r\n" + (b"x" * 78 + b"\r\n") * 30000 + b"no end")
    lmtpd.wait_log(r"lost connection after DATA \(2\d{6} bytes\) from unix")
    # A command cut off outside a transaction (the client closes in the
    # middle of its line) is logged as such.
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"NOOP\r\nMAIL FROM:<s@exa")
        assert c.reply().code == 250
    lmtpd.wait_log(r"lost connection in a command line after [A-Z]+ from unix")
    # Complete lines left unread (a client that pipelines thousands and
    # goes away without reading a reply) cut nothing.
    ends = lmtpd.log().count("disconnect from unix")
    with lmtpd.client() as c:
        c.send(b"LHLO x\r\n" + b"NOOP\r\n" * 20000)
    wait_for(lambda: lmtpd.log().count("disconnect from unix") > ends, 20,
             what="the end of the pipelining client's session")
    assert len(re.findall(r"lost connection in a command line", lmtpd.log())) == 1
    # Only the Berkeley DB environment lives there.
    assert [f for f in os.listdir(lmtpd.state)
            if not re.match(r"(__db\.\w+|log\.\d+|\w+\.db)$", f)] == []
    assert all_files(lmtpd.mail) == []
    assert messages(lmtpd.log()) == []
    t = lmtpd.deliver(["cut@example.com"], make_message("after"))
    assert t.final_codes() == [250]
    no_leftovers(lmtpd)


@pytest.mark.fast
def test_garbage_commands_then_421(lmtpd):
    """Unknown commands get 500 5.5.2; HELO/EHLO a 500 naming LHLO; after
    max_errors (20) errors the server says 421 and closes."""
    with lmtpd.client() as c:
        c.connect_greeting()
        r = c.cmd("EHLO x")
        assert r.code == 500 and "LHLO" in r.line
        for i in range(18):
            r = c.cmd("XYZZY %d" % i)
            assert (r.code, r.enh) == (500, "5.5.2"), r
        c.send("GARBAGE\r\n")
        assert c.reply().code == 500
        r = c.reply()
        assert (r.code, r.enh) == (421, "4.7.0") and "too many errors" in r.line
        assert c.at_eof()
    lmtpd.wait_log(r"disconnect from unix .* unknown=19 errors=20")
    # The reason comes before the disconnect line; no transaction was open.
    # Another session's lines (the fixture's readiness probe) may come
    # between the two, so they are matched by the worker's pid.
    lmtpd.wait_log(r"^lmtpd\[(\d+)\]: too many errors after CONNECT from unix\n"
                   r"(?:.*\n)*?lmtpd\[\1\]: disconnect from unix ")

    # Random binary lines, pipelined: a 5xx each, then 421, no crash.
    rnd = random.Random(1234)
    junk = b"".join(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
                    .replace(b"\n", b"") + b"\r\n" for _ in range(40))
    with lmtpd.client() as c:
        c.connect_greeting()
        c.send(junk)
        codes = []
        try:
            while True:
                codes.append(c.reply().code)
        except ConnectionClosed:
            pass
    assert codes[-1] == 421 and all(500 <= x < 600 for x in codes[:-1]), codes
    t = lmtpd.deliver(["after@example.com"], make_message("after garbage"))
    assert t.final_codes() == [250]


@pytest.mark.fast
def test_overlong_command_lines(lmtpd):
    """A command line over 2048 bytes gets 500 5.5.2 (also when it is far
    larger than the input buffer and arrives without a line end for a
    while); a path over 256 bytes 501; the session stays usable."""
    with lmtpd.client() as c:
        c.lhlo()
        r = c.cmd("NOOP " + "x" * 3000)
        assert (r.code, r.enh) == (500, "5.5.2") and "too long" in r.line
        c.send(b"NOOP " + b"y" * (200 * 1024))
        assert c.cmd("").code == 500
        assert c.cmd("MAIL FROM:<s@example.org>").code == 250
        r = c.cmd("RCPT TO:<%s@example.com>" % ("a" * 300))
        assert r.code == 501
        r = c.cmd("RCPT TO:<%s@example.com>" % ("a" * 65))
        assert (r.code, r.enh) == (501, "5.1.3")
        assert c.cmd("RCPT TO:<ok@example.com>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(integlib.wire(make_message("after long lines")))
        assert c.reply().code == 250
        c.quit()
    assert len(read_new(lmtpd.maildir("ok@example.com"))) == 1
    no_leftovers(lmtpd)


@pytest.mark.fast
def test_at_sign_outside_quotes_in_local_part(lmtpd):
    """RCPT TO:<a@b@example.com> is a route, not a mailbox: 501 5.1.3 (as
    Dovecot's LMTP answers), nothing delivered to a mailbox named a@b; the
    quoted form "a@b"@example.com is a mailbox, and Python's LMTP client
    delivers to it."""
    import smtplib
    c = smtplib.LMTP(lmtpd.sock)
    try:
        c.ehlo_or_helo_if_needed()
        assert c.mail("s@example.org")[0] == 250
        code, text = c.rcpt("a@b@example.com")
        assert code == 501 and text.startswith(b"5.1.3"), (code, text)
        assert c.rcpt('"a@b"@example.com')[0] == 250
        code, _ = c.data(make_message("quoted"))
        assert code == 250
        c.quit()
    finally:
        c.close()
    assert len(read_new(os.path.join(lmtpd.mail, "example.com", "a@b", "Maildir"))) == 1
    assert re.search(r"reject: RCPT from .*: 501 5.1.3 .*TO:<a@b@example.com>", lmtpd.log())


@pytest.mark.fast
def test_bad_bdat_size_closes(lmtpd):
    """A BDAT whose size can not be parsed loses the framing: 501, then
    421 and close (there is no way to find the next command)."""
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<b@example.com>\r\nBDAT 12x\r\nrest")
        assert [c.reply().code for _ in range(2)] == [250, 250]
        assert c.reply().code == 501
        r = c.reply()
        assert (r.code, r.enh) == (421, "4.7.0")
        assert c.at_eof()
    assert all_files(lmtpd.mail) == []
    lmtpd.wait_log(r": lost BDAT framing after RCPT from unix; "
                   r"its transaction is left unfinished$")


def rcpt_queue_id(reply):
    return re.search(r"> ([0-9A-F]{8,}) ", reply.line).group(1)


@pytest.mark.fast
@pytest.mark.parametrize("bdat", [b"BDAT abc LAST", b"BDAT -1", b"BDAT 5 LASTX"])
def test_lost_bdat_framing_is_logged(lmtpd, bdat):
    """The 421 after a BDAT that loses the framing is logged with its
    reason, and the open transaction (its queue id) as left unfinished:
    before, only the disconnect line's errors=1 told of it."""
    since = lmtpd.log_size()
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<b@example.com>\r\n" + bdat +
               b"\r\nhello")
        assert c.reply().code == 250
        rcpt = c.reply()
        assert rcpt.code == 250
        qid = rcpt_queue_id(rcpt)
        assert c.reply().code == 501
        r = c.reply()
        assert (r.code, r.enh) == (421, "4.7.0")
        assert c.at_eof()
    lmtpd.wait_log(r"^lmtpd\[(\d+)\]: %s: lost BDAT framing after RCPT from unix; "
                   r"its transaction is left unfinished\n"
                   r"(?:.*\n)*?lmtpd\[\1\]: disconnect from unix .* errors=1$" % qid,
                   since=since)
    assert all_files(lmtpd.mail) == []


@pytest.mark.fast
def test_dropped_session_log_lines(lmtpd):
    """The reason for a 421 4.7.0 close is logged: in the middle of BDAT
    chunks (with the bytes received), without a transaction (nothing said
    of one), and after max_errors (20) errors inside a transaction."""
    since = lmtpd.log_size()
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<b@example.com>\r\n"
               b"BDAT 7\r\nchunk\r\nBDAT 3 MORE\r\nabc")
        replies = c.replies(5)
        assert [r.code for r in replies] == [250, 250, 250, 501, 421]
        qid = rcpt_queue_id(replies[1])
        assert c.at_eof()
    lmtpd.wait_log(r"^lmtpd\[\d+\]: %s: lost BDAT framing after BDAT \(6 bytes\) from "
                   r"unix; its transaction is left unfinished$" % qid, since=since)

    since = lmtpd.log_size()
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"BDAT 5x\r\nhello")
        assert [c.reply().code for _ in range(2)] == [501, 421]
        assert c.at_eof()
    lmtpd.wait_log(r"^lmtpd\[\d+\]: lost BDAT framing after LHLO from unix$", since=since)

    since = lmtpd.log_size()
    with lmtpd.client() as c:
        c.lhlo()
        assert c.cmd("MAIL FROM:<s@example.org>").code == 250
        assert c.cmd("RCPT TO:<first@example.com>").code == 250
        rcpt = c.cmd("RCPT TO:<errors@example.com>")
        qid = rcpt_queue_id(rcpt)
        c.send(b"XYZZY\r\n" * 20)
        codes = [c.reply().code for _ in range(21)]
        assert codes == [500] * 20 + [421]
        assert c.at_eof()
    lmtpd.wait_log(r"^lmtpd\[\d+\]: %s: too many errors after RCPT from unix; "
                   r"its transaction is left unfinished$" % qid, since=since)
    assert all_files(lmtpd.mail) == []


@pytest.mark.fast
def test_control_characters_in_addresses(lmtpd):
    """Header injection: a backslash may escape only a printable character
    (RFC 5321 quoted-pairSMTP) and a quoted string holds no control, so
    "\\<CR>" and its kin get 501 5.1.7 at MAIL and 501 5.1.3 at RCPT; so do
    C1 controls and U+2028/U+2029 in UTF-8.  Nothing lands in the trace
    headers, no directory is made, the session goes on."""
    bad = [b'"a\\\rX-Spam-Flag: NO\\\rX:"@b.c', b'"a\\\tb"@example.org',
           b'"a\\\x7fb"@example.org', b'"a\\\x01b"@example.org', b'"a\\\x1bb"@example.org',
           b'"a\rb"@example.org', b'"a\tb"@example.org', b'"a\x7fb"@example.org',
           b"a\xc2\x85b@example.org", b'"a\\\xc2\x85b"@example.org',
           b"a\xe2\x80\xa8b@example.org", b"a@ex\xe2\x80\xa9ample.org"]
    with lmtpd.client() as c:
        c.lhlo()
        for a in bad:
            c.send(b"MAIL FROM:<" + a + b"> SMTPUTF8\r\n")
            r = c.reply()
            assert (r.code, r.enh) == (501, "5.1.7"), (a, r)
        c.quit()
    with lmtpd.client() as c:
        c.lhlo()
        assert c.cmd("MAIL FROM:<s@example.org> SMTPUTF8").code == 250
        for a in bad:
            c.send(b"RCPT TO:<" + a.replace(b"example.org", b"example.com") + b">\r\n")
            r = c.reply()
            assert (r.code, r.enh) == (501, "5.1.3"), (a, r)
        assert c.cmd("RCPT TO:<ok@example.com>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(integlib.wire(make_message("controls")))
        assert c.reply().code == 250
        c.quit()
    [f] = read_new(lmtpd.maildir("ok@example.com"))
    assert b"\r" not in f and b"X-Spam-Flag" not in f
    assert os.listdir(lmtpd.mail) == ["example.com"]
    assert os.listdir(os.path.join(lmtpd.mail, "example.com")) == ["ok"]
    no_leftovers(lmtpd)


@pytest.mark.fast
def test_domain_syntax(lmtpd):
    """A recipient's domain must be RFC 5321 labels (with '_', which real
    host names carry) or an address literal: the broken ones get 501 5.1.3
    at RCPT and no directory.  A sender's is taken as it comes (the MTA
    took the message; a 5xx would bounce it), empty aside.  <>, localhost,
    address literals and an absolute name work."""
    bad = ["x@[]", "x@example.com:25", "x@*", "x@-example.com", "x@example.com\\",
           "x@example-.com", "x@example..com", "x@[1.2.3.999]", "x@[IPv6:]"]
    with lmtpd.client() as c:
        c.lhlo()
        for a in bad:
            assert c.cmd("MAIL FROM:<%s>" % a).code == 250, a
            assert c.cmd("RSET").code == 250
        r = c.cmd("MAIL FROM:<x@>")
        assert (r.code, r.enh) == (501, "5.1.7"), r
        assert c.cmd("MAIL FROM:<>").code == 250
        for a in bad:
            r = c.cmd("RCPT TO:<%s>" % a)
            assert (r.code, r.enh) == (501, "5.1.3"), (a, r)
        c.cmd("RSET")
        good = ["x@localhost", "x@[192.0.2.1]", "x@[IPv6:2001:db8::1]", "y@Example.COM.",
                "z@mail_host.example"]
        t = c.transaction("s@[192.0.2.7]", good, make_message("domains"))
        assert [r.code for r in t.rcpts] == [250] * 5
        assert t.final_codes() == [250] * 5
        c.quit()
    assert sorted(os.listdir(lmtpd.mail)) == ["[192.0.2.1]", "[ipv6:2001:db8::1]",
                                              "example.com", "localhost",
                                              "mail_host.example"]
    no_leftovers(lmtpd)


def _drip_until_reply(c, drip=b"drip\r\n"):
    """Sends a few bytes, then waits up to 0.3 s for a reply, 16 times at
    most: drips are at least 0.3 s apart, so they span 4.8 s or more, far
    past a deadline of about 1 s.  Counting drips instead of reading a
    clock, a slow machine only makes the answer come after fewer drips.
    Returns (the reply or None, drips sent)."""
    drips = 0
    while drips < 16:
        try:
            c.send(drip)
        except OSError:
            break
        drips += 1
        c.sock.settimeout(0.3)
        try:
            return c.reply(), drips
        except (OSError, ConnectionClosed):
            pass
    return None, drips


def test_slow_drip_hits_the_data_deadline(lmtpd_factory):
    """A client that drips DATA a few bytes at a time never trips the
    per-read idle_timeout, but the DATA deadline (idle_timeout plus
    bytes / min_data_rate) ends it with 421 4.4.2; nothing is delivered."""
    d = lmtpd_factory(idle_timeout="1s", min_data_rate="100000")
    with d.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<drip@example.com>\r\nDATA\r\n")
        assert [c.reply().code for _ in range(3)] == [250, 250, 354]
        r, drips = _drip_until_reply(c)
        assert r is not None and (r.code, r.enh) == (421, "4.4.2"), (r, drips)
    d.wait_log(r"[0-9A-F]{16}: timeout after DATA \([1-9]\d* bytes\) from unix")
    assert all_files(d.mail) == []


def test_slow_drip_of_a_refused_chunk_hits_the_deadline(lmtpd_factory):
    """A BDAT chunk refused for want of recipients is still read to its
    end: dripped, it is under the same deadline as accepted data (before,
    a huge refused chunk could hold a worker one byte per idle_timeout)."""
    d = lmtpd_factory(idle_timeout="1s", min_data_rate="100000")
    with d.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nBDAT 999999999 LAST\r\n")
        assert c.reply().code == 250
        r, drips = _drip_until_reply(c)
        assert r is not None and (r.code, r.enh) == (421, "4.4.2"), (r, drips)
    d.wait_log(r"timeout after MAIL from unix")


@pytest.mark.parametrize("start", [b"NOOP ", b"NOOP " + b"x" * 3000],
                         ids=["short", "over-long"])
def test_slow_drip_of_a_command_line_hits_the_line_deadline(lmtpd_factory, start):
    """idle_timeout bounds a whole command line, not each read (Postfix's
    smtpd_per_record_deadline): a client that sends a byte at a time and
    never ends its line, short or past the line limit, is let go with 421
    4.4.2, and the log says why."""
    d = lmtpd_factory(idle_timeout="1s")
    with d.client() as c:
        c.lhlo()
        c.send(start)
        r, drips = _drip_until_reply(c, b"x")
        assert r is not None and (r.code, r.enh) == (421, "4.4.2"), (r, drips)
    d.wait_log(r"timeout after LHLO from unix.*: one command line took over 1 s "
               r"\(idle_timeout\)")


def test_line_deadline_restarts_with_each_line(lmtpd_factory):
    """The deadline is per line: pipelined commands whose last line comes
    in two writes, each write ending a line and starting the next, go on
    well past idle_timeout in all without a timeout."""
    d = lmtpd_factory(idle_timeout="3s")
    with d.client() as c:
        c.lhlo()
        c.send(b"NO")
        for _ in range(12):
            time.sleep(0.4)
            c.send(b"OP\r\nNO")
            assert c.reply().code == 250
        c.send(b"OP\r\n")
        assert c.reply().code == 250
        c.quit()
    d.wait_log(r"disconnect from unix.* quit=1")
    assert "timeout after" not in d.log()


@pytest.mark.fast
def test_command_line_limit_exactly(lmtpd):
    """A command of exactly 2048 bytes is taken, with CRLF, bare LF or its
    CR and LF in separate writes; 2049 bytes get 500 5.5.2."""
    with lmtpd.client() as c:
        c.lhlo()
        for n, code in ((2048, 250), (2049, 500)):
            line = b"NOOP " + b"x" * (n - 5)
            c.send(line + b"\r\n")
            assert c.reply().code == code, n
            c.send(line + b"\n")
            assert c.reply().code == code, n
            for piece in (line, b"\r", b"\n"):
                c.send(piece)
                time.sleep(0.05)
            assert c.reply().code == code, n
        c.quit()


@pytest.mark.fast
def test_end_of_data_split_across_writes(lmtpd):
    """CRLF.CRLF in five writes ends DATA once: one final reply, the
    session goes on, the message is stored whole."""
    with lmtpd.client() as c:
        c.lhlo()
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<split@example.com>\r\nDATA\r\n")
        assert [c.reply().code for _ in range(3)] == [250, 250, 354]
        for piece in (b"Subject: split\r\n\r\nbody", b"\r", b"\n", b".", b"\r", b"\n"):
            c.send(piece)
            time.sleep(0.05)
        assert c.reply().code == 250
        assert c.cmd("NOOP").line == "250 2.0.0 Ok"
        c.quit()
    [f] = read_new(lmtpd.maildir("split@example.com"))
    assert split_trace(f)[1] == b"Subject: split\n\nbody\n"


@pytest.mark.fast
def test_parameters_and_verbs(lmtpd_factory):
    """SIZE= at, past and far past max_message_size, malformed SIZE and
    BODY values, verbs lmtpd does not speak (XCLIENT, XFORWARD, EXPN):
    each gets its own code; none ends the session."""
    d = lmtpd_factory(max_message_size="1000")
    with d.client() as c:
        c.lhlo()
        for params, want in (("SIZE=1001", (552, "5.3.4")),
                             # 20 digits are RFC 1870 syntax: over any limit
                             ("SIZE=18446744073709551616", (552, "5.3.4")),
                             ("SIZE=123456789012345678901", (501, "5.5.4")),
                             ("SIZE", (501, "5.5.4")),
                             ("SIZE=-1", (501, "5.5.4")), ("SIZE=", (501, "5.5.4")),
                             ("BODY=BINARYMIME", (555, "5.5.4")),
                             ("X-UNKNOWN=1", (555, "5.5.4"))):
            r = c.cmd("MAIL FROM:<s@example.org> " + params)
            assert (r.code, r.enh) == want, (params, r)
        for verb, code in (("XCLIENT ADDR=192.0.2.1", 500), ("XFORWARD NAME=x", 500),
                           ("EXPN staff", 502), ("VRFY bob", 252)):
            assert c.cmd(verb).code == code, verb
        t = c.transaction("s@example.org", ["size@example.com"], b"x" * 998 + b"\n",
                          mail_params="SIZE=1000 BODY=8BITMIME")
        assert t.final_codes() == [250]
        c.quit()


@pytest.mark.fast
def test_transaction_after_failures(lmtpd):
    """DATA with no valid recipient gets 503 and the transaction goes on
    (RCPT, DATA); RSET in the middle of BDAT drops the chunks received;
    BDAT 0 LAST delivers an empty message."""
    with lmtpd.client() as c:
        c.lhlo()
        assert c.cmd("MAIL FROM:<s@example.org>").code == 250
        assert c.cmd('RCPT TO:<""@example.com>').code == 501
        assert c.cmd("DATA").code == 503
        assert c.cmd("RCPT TO:<late@example.com>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(integlib.wire(b"Subject: late\n\nlate\n"))
        assert c.reply().code == 250
        c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<reset@example.com>\r\n"
               b"BDAT 10\r\nOLD-CHUNK\nRSET\r\n")
        assert [c.reply().code for _ in range(4)] == [250, 250, 250, 250]
        t = c.bdat_transaction("s@example.org", ["reset@example.com"], [b"Subject: new\r\n\r\n"])
        assert t.final_codes() == [250]
        t = c.bdat_transaction("s@example.org", ["empty@example.com"], [b""])
        assert t.final_codes() == [250]
        c.quit()
    [f] = read_new(lmtpd.maildir("reset@example.com"))
    assert split_trace(f)[1] == b"Subject: new\n\n"
    [f] = read_new(lmtpd.maildir("empty@example.com"))
    assert split_trace(f)[1] == b""
    assert len(read_new(lmtpd.maildir("late@example.com"))) == 1
