"""Malformed MIME through the daemon (issue 3: "malformed MIME ... is scored
as far as it can be and delivered"; DESIGN invariant 5).  The real lmtpd
runs with scoring on (Debian's SpamAssassin rules plus a local rule set),
and Python's smtplib.LMTP hands it, one transaction each: MIME nested
1000 deep, multiparts whose boundary is missing or never closed, broken
base64, parts whose charset lies, NUL bytes, and 200 KB header lines.

Each must get 250, be stored byte for byte as sent apart from the X-Spam-*
block lmtpd adds after the trace headers, carry X-Spam-Status, and leave a
delivery line (with score= and tests=) in the log.  The fixture checks the
log for crashes and sanitizer reports."""
import base64
import os
import re
import shutil
import smtplib
import tempfile

import pytest

import saparity
from integlib import deliveries, messages, read_new, split_trace


# A local rule set that reads every view the malformed parts feed: the
# rendered body, the raw body, the whole message, URIs, MIME part headers
# and decoded header fields.
LOCAL_CF = r"""
body LOCAL_MARK_BODY /\bmarkerword\b/
describe LOCAL_MARK_BODY Marker in the rendered body
score LOCAL_MARK_BODY 0.5
rawbody LOCAL_MARK_RAW /\bmarkerword\b/
score LOCAL_MARK_RAW 0.5
full LOCAL_MARK_FULL /\bmarkerword\b/
score LOCAL_MARK_FULL 0.5
uri LOCAL_MARK_URI /marker\.example/
score LOCAL_MARK_URI 0.5
mimeheader LOCAL_MIME_CT Content-Type =~ /bogus|multipart/i
score LOCAL_MIME_CT 0.1
header LOCAL_SUBJ Subject =~ /markerword/
score LOCAL_SUBJ 0.1
"""

HEAD = (b"From: Sender <sender@example.org>\n"
        b"To: rcpt@example.com\n"
        b"Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
        b"Message-ID: <%s@example.org>\n")


def head(name, subject=b"malformed markerword", extra=b""):
    return (HEAD % name.encode()) + b"Subject: " + subject + b"\n" + b"MIME-Version: 1.0\n" + extra


def nested_1000():
    """multipart/mixed inside multipart/mixed, 1000 deep, a text part at
    the bottom, every level closed."""
    depth = 1000
    out = [head("nested-1000", extra=b'Content-Type: multipart/mixed; boundary="b0"\n\n')]
    for i in range(1, depth):
        out.append(b"--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n" % (i - 1, i))
    out.append(b"--b%d\nContent-Type: text/plain\n\nmarkerword at the bottom "
               b"http://marker.example.com/deep\n" % (depth - 1))
    for i in reversed(range(depth)):
        out.append(b"--b%d--\n" % i)
    return b"".join(out)


def nested_1000_unclosed():
    """The same depth, no level ever closed, nor a blank line after the
    part headers."""
    out = [head("nested-1000-open", extra=b"Content-Type: multipart/alternative; boundary=x\n\n")]
    for _ in range(1000):
        out.append(b"--x\nContent-Type: multipart/alternative; boundary=x\n")
    out.append(b"markerword\n")
    return b"".join(out)


def boundary_missing():
    """multipart/mixed without a boundary parameter."""
    return (head("no-boundary", extra=b"Content-Type: multipart/mixed\n\n") +
            b"--foo\nContent-Type: text/plain\n\nmarkerword one\n--foo--\n")


def boundary_never_closed():
    """A boundary that opens parts but never closes them; the last part
    runs to the end of the message, in the middle of its base64."""
    return (head("never-closed", extra=b'Content-Type: multipart/mixed; boundary="=_open"\n\n') +
            b"preamble\n--=_open\nContent-Type: text/plain\n\nmarkerword in part one\n"
            b"--=_open\nContent-Type: text/html; charset=utf-8\n"
            b"Content-Transfer-Encoding: base64\n\n" +
            base64.b64encode(b"<html><body><a href='http://marker.example.com/x'>markerword"
                             b"</a>")[:30] + b"\n")


def boundary_never_seen():
    """A boundary that never appears in the body at all."""
    return (head("never-seen", extra=b'Content-Type: multipart/related; boundary="nowhere"\n\n') +
            b"--somewhere-else\nContent-Type: text/plain\n\nmarkerword\n--somewhere-else--\n")


def base64_invalid_chars():
    enc = base64.b64encode(b"markerword and more text to decode\n" * 4).decode()
    # Characters outside the alphabet sprinkled through, '=' in the middle.
    broken = enc[:10] + "!!@@##" + enc[10:20] + "=" + enc[20:40] + "\x7f\x80\xff" + enc[40:]
    return (head("b64-invalid", extra=b"Content-Type: text/plain; charset=us-ascii\n"
                 b"Content-Transfer-Encoding: base64\n\n") +
            broken.encode("latin-1") + b"\n")


def base64_truncated():
    """Multipart with two base64 parts: one cut mid-quantum, one that is a
    single stray character."""
    enc = base64.b64encode(b"<p>markerword <a href=http://marker.example.com/t>t</a></p>" * 3)
    return (head("b64-truncated", extra=b'Content-Type: multipart/alternative; boundary="B"\n\n') +
            b"--B\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n" +
            enc[:len(enc) - 7] + b"\n"
            b"--B\nContent-Type: text/plain\nContent-Transfer-Encoding: BASE64\n\nQ\n"
            b"--B--\n")


def charset_lying_utf8():
    """charset=utf-8 with bytes that are not UTF-8 (overlong, lone
    continuation, truncated sequence, surrogates), in a QP part and raw 8bit,
    and an RFC 2047 word with the same bytes."""
    bad = b"markerword \xff\xfe \xc0\xaf \x80\x80 \xe2\x82 \xed\xa0\x80 end\n"
    qp = b"".join(b"=%02X" % c if c >= 0x80 else bytes([c]) for c in bad)
    return (head("lying-utf8", subject=b"=?utf-8?Q?markerword_=FF=C0=AF?=",
                 extra=b'Content-Type: multipart/mixed; boundary="L"\n\n') +
            b"--L\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" +
            bad +
            b"--L\nContent-Type: text/html; charset=\"UTF-8\"\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n<b>" + qp + b"</b>\n"
            b"--L--\n")


def charset_bogus():
    """charset=bogus-xyz (unknown to iconv) on the body, on an RFC 2047
    word, and an empty charset."""
    return (head("bogus-charset", subject=b"=?bogus-xyz?B?bWFya2Vyd29yZCDp?= tail",
                 extra=b'Content-Type: multipart/mixed; boundary="C"\n\n') +
            b"--C\nContent-Type: text/plain; charset=bogus-xyz\n\nmarkerword caf\xe9 \xa4\xa4\n"
            b"--C\nContent-Type: text/plain; charset=\"\"\n\nmarkerword \xfe\n"
            b"--C\nContent-Type: text/plain; charset=utf-16\n\nodd\n"
            b"--C--\n")


def nul_bytes():
    """NUL in a plain part, an HTML part, a base64-decoded part and a
    header."""
    return (head("nul", extra=b'X-Nul: a\x00b\nContent-Type: multipart/mixed; boundary="N"\n\n') +
            b"--N\nContent-Type: text/plain\n\nmarker\x00word\n\x00\x00\nmarkerword\n"
            b"--N\nContent-Type: text/html\n\n<p>mark\x00erword <a href=\"http://marker.example.com/\x00n\">x</a>\n"
            b"--N\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" +
            base64.b64encode(b"decoded\x00nul markerword\n") + b"\n--N--\n")


def long_header(field):
    """A 200 KB single header line (no folding) in the given field."""
    size = 200 * 1024
    if field == b"Subject":
        value = (b"markerword " * (size // 11 + 1))[:size]
    elif field == b"Received":
        value = b"from " + b"h" * size + b".example (x [192.0.2.1]) by mx.example.com; " \
            b"Thu, 01 Jan 2026 00:00:00 +0000"
    elif field == b"To":
        value = b", ".join(b"u%d@example.com" % i for i in range(size // 18))
    elif field == b"Content-Type":
        value = b"text/plain; charset=utf-8; x=\"" + b"p" * size + b"\""
    else:
        value = b"z" * size
    msg = (HEAD % b"long-" + field.lower()) + field + b": " + value + b"\n"
    if field != b"Subject":
        msg += b"Subject: long header\n"
    if field != b"To":
        msg += b"To: rcpt@example.com\n"
    return msg + b"\nmarkerword body\n"


CASES = {
    "nested_1000": nested_1000,
    "nested_1000_unclosed": nested_1000_unclosed,
    "boundary_missing": boundary_missing,
    "boundary_never_closed": boundary_never_closed,
    "boundary_never_seen": boundary_never_seen,
    "base64_invalid_chars": base64_invalid_chars,
    "base64_truncated": base64_truncated,
    "charset_lying_utf8": charset_lying_utf8,
    "charset_bogus": charset_bogus,
    "nul_bytes": nul_bytes,
    "long_subject": lambda: long_header(b"Subject"),
    "long_received": lambda: long_header(b"Received"),
    "long_to": lambda: long_header(b"To"),
    "long_content_type": lambda: long_header(b"Content-Type"),
    "long_x_header": lambda: long_header(b"X-Long"),
}


@pytest.fixture(scope="module")
def rules_dir():
    """SpamAssassin's rule files and LOCAL_CF in one folder (spamd's -C
    takes one), readable by the users lmtpd and spamd run as."""
    d = saparity.copy_sa_rules(tempfile.mkdtemp(prefix="lmtpd-malformed-rules-"),
                               LOCAL_CF)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def scoring_lmtpd(lmtpd_factory, rules_dir):
    return lmtpd_factory(rules_dir=rules_dir, spam_report="yes")


def lmtp_send(d, rcpt, msg):
    """One transaction through smtplib.LMTP on the daemon's UNIX socket;
    returns the DATA reply (code, text).  smtplib sends bytes as given, so
    the LF message goes out with CRLF line ends (lmtpd stores LF)."""
    wire = msg.replace(b"\n", b"\r\n")
    with smtplib.LMTP(d.sock, timeout=60) as s:
        s.ehlo_or_helo_if_needed()
        assert s.mail("sender@example.org")[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        code, text = s.data(wire)
    return code, text.decode("utf-8", "replace")


def split_stored(data):
    """A delivered file -> (the X-Spam-* fields, folds included, the
    message as it was sent).  lmtpd writes Return-Path:, its X-Spam-*
    block, then Delivered-To: and Received:, then the message."""
    rp, rest = data.split(b"\n", 1)
    assert rp.startswith(b"Return-Path: <sender@example.org>"), rp
    fields, rest = split_spam_block(rest)
    trace, original = split_trace(rest)
    assert [t.split(b":", 1)[0] for t in trace] == [b"Delivered-To", b"Received"], trace
    return fields, original


def split_spam_block(rest):
    """(the X-Spam-* fields at the top of rest, folds included, the rest)."""
    pos = 0
    fields = []
    while rest.startswith(b"X-Spam-", pos):
        end = rest.index(b"\n", pos) + 1
        while rest[end:end + 1] in (b" ", b"\t"):
            end = rest.index(b"\n", end) + 1
        fields.append(rest[pos:end])
        pos = end
    return fields, rest[pos:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_mime_delivered_intact(scoring_lmtpd, case):
    d = scoring_lmtpd
    msg = CASES[case]()
    assert b"\r" not in msg
    rcpt = "%s@example.com" % case.replace("_", "-")
    code, text = lmtp_send(d, rcpt, msg)
    assert code == 250, text
    qid = re.search(r"> ([0-9A-F]{8,}) ", text).group(1)

    [stored] = read_new(d.maildir(rcpt))
    fields, original = split_stored(stored)
    # Byte for byte as sent, apart from the X-Spam-* block lmtpd added.
    assert original == msg, (len(original), len(msg))
    names = [f.split(b":", 1)[0] for f in fields]
    assert names[0] == b"X-Spam-Checker-Version"
    assert names.count(b"X-Spam-Status") == 1
    status = [f for f in fields if f.startswith(b"X-Spam-Status:")][0]
    m = re.match(rb"X-Spam-Status: (Yes|No), score=(-?[\d.]+) required=5\.0 tests=",
                 status)
    assert m, status

    # One message line and one delivery line, with the same score.
    log = d.log()
    [mline] = messages(log, qid)
    assert int(mline["size"]) == len(msg)
    [line] = deliveries(log, qid)
    assert line["status"] == "sent" and line["dsn"] == "2.0.0"
    assert line["to"] == rcpt and line["folder"] == "INBOX"
    assert line["score"] == m.group(2).decode() + "/5.0", (line, status)
    assert line["tests"] is not None


def test_malformed_mime_one_session(scoring_lmtpd):
    """Every case in one LMTP session, one after the other (a worker that
    survives one bad message must score the next correctly): the last,
    plain message scores exactly as on a fresh daemon."""
    d = scoring_lmtpd
    plain = head("plain-after") + b"Content-Type: text/plain\n\nmarkerword http://marker.example.com/\n"
    with smtplib.LMTP(d.sock, timeout=120) as s:
        s.ehlo_or_helo_if_needed()
        for case in sorted(CASES) + ["plain"]:
            msg = plain if case == "plain" else CASES[case]()
            assert s.mail("sender@example.org")[0] == 250
            assert s.rcpt("session@example.com")[0] == 250
            code, text = s.data(msg.replace(b"\n", b"\r\n"))
            assert code == 250, (case, text)
    stored = read_new(d.maildir("session@example.com"))
    assert len(stored) == len(CASES) + 1
    last = [f for f in stored if b"plain-after@example.org" in f]
    [f] = last
    fields, original = split_stored(f)
    assert original == plain
    status = b"".join(x for x in fields if x.startswith(b"X-Spam-Status:"))
    status = re.sub(rb"\s+", b" ", status)
    for rule in (b"LOCAL_MARK_BODY", b"LOCAL_MARK_RAW", b"LOCAL_MARK_FULL",
                 b"LOCAL_MARK_URI", b"LOCAL_SUBJ"):
        assert rule in status, status
    assert len(deliveries(d.log())) == len(CASES) + 1


def test_malformed_mime_scored_as_spamassassin(scoring_lmtpd, rules_dir):
    """Scored as far as it can be, and the way SpamAssassin scores it: a
    private spamd (Debian's SpamAssassin 4, the same rule files, network
    tests and Bayes off) gives each case the same score and tests as the
    daemon.  spamd gets the Return-Path: an MTA adds at final delivery,
    from the MAIL FROM lmtpd was given."""
    saparity.require_spamd()
    from sa_parity import Spamd  # tests/tools, on sys.path through saparity
    d = scoring_lmtpd
    ours = {}
    for case in sorted(CASES):
        rcpt = "sa-%s@example.com" % case.replace("_", "-")
        code, text = lmtp_send(d, rcpt, CASES[case]())
        assert code == 250, text
        [f] = read_new(d.maildir(rcpt))
        fields, _ = split_stored(f)
        status = re.sub(rb"\s+", b" ", b"".join(x for x in fields
                                                 if x.startswith(b"X-Spam-Status:")))
        m = re.match(rb"X-Spam-Status: \w+, score=(-?[\d.]+) required=\S+ tests=(.*?) "
                     rb"autolearn=", status)
        assert m, status
        ours[case] = (float(m.group(1)),
                      set(re.split(r"[,\s]+", m.group(2).decode())) - {"none", ""})
    spamd = Spamd(rules_dir, children=1, subtests=False)
    try:
        theirs = {case: spamd.check(b"Return-Path: <sender@example.org>\n" + CASES[case](),
                                    want_score=True)
                  for case in sorted(CASES)}
    finally:
        spamd.stop()
    differ = {c: (ours[c], theirs[c]) for c in CASES if ours[c] != theirs[c]}
    assert differ == {}, differ
