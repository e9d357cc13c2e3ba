"""Delivery status notifications (RFC 3461): lmtpd offers DSN, so an MTA
relaying to it leaves the "delivered" report for NOTIFY=SUCCESS to lmtpd,
which sends it through `submission` once the recipients have their 250."""

import email
import email.policy
import os
import signal
import smtplib

import pytest

from integlib import make_message, read_new, split_trace, wait_for
from sieve_helpers import write_script
from test_protocol import compile_map


def _parts(raw):
    """The report's three parts as (content type, payload bytes)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    return [(p.get_content_type(), p.as_bytes().split(b"\n\n", 1)[1])
            for p in msg.get_payload()]


def _home(d, addr):
    local, _, domain = addr.partition("@")
    return os.path.join(d.mail, domain, local)


@pytest.mark.peers
def test_success_report_for_notify_success(lmtpd_factory, sink):
    """Only the recipients delivered with NOTIFY=SUCCESS are in the one
    report, sent from the null sender to the envelope sender, with the
    ENVID, ORCPT and (RET=FULL) the message; a copy a Sieve script only
    redirected is "relayed"; one it discarded, NOTIFY=NEVER, no NOTIFY, a
    refused recipient and the null sender get none."""
    d = lmtpd_factory(submission=sink.submission, submission_timeout="10s")
    write_script(_home(d, "erin@example.com"), 'redirect "elsewhere@example.net";\n')
    write_script(_home(d, "frank@example.com"), "discard;\n")
    msg = make_message("report me", "Body text.\n")
    with d.client() as c:
        c.lhlo()
        t = c.transaction(
            "bob@example.org",
            ["alice@example.com", "carol@example.com", "dave@example.com",
             "erin@example.com", "frank@example.com", "bad/x@example.com"],
            msg, mail_params="RET=FULL ENVID=run+2B1",
            rcpt_params=["NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;info@example.net",
                         "", "NOTIFY=NEVER", "NOTIFY=SUCCESS", "NOTIFY=SUCCESS",
                         "NOTIFY=SUCCESS"])
        assert [r.code for r in t.rcpts] == [250, 250, 250, 250, 250, 501]
        assert t.final_codes() == [250, 250, 250, 250, 250]
        t = c.transaction("", ["alice@example.com"], make_message("from nobody"),
                          rcpt_params=["NOTIFY=SUCCESS"])
        assert t.final_codes() == [250]
        c.quit()
    got = sink.wait_messages(2)
    [m] = [x for x in got if x["sender"] == ""]
    assert m["rcpts"] == ["bob@example.org"]
    headers = dict(m["headers"])
    assert headers["To"] == "<bob@example.org>"
    assert headers["Auto-Submitted"] == "auto-replied"
    parts = _parts(m["raw"])
    assert [p[0] for p in parts] == ["text/plain", "message/delivery-status",
                                     "message/rfc822"]
    assert b"<alice@example.com>: delivered to mailbox" in parts[0][1]
    status = parts[1][1].decode()
    assert "Original-Envelope-Id: run+1\n" in status
    assert ("Final-Recipient: rfc822; alice@example.com\n"
            "Original-Recipient: rfc822; info@example.net\n"
            "Action: delivered\nStatus: 2.0.0\n") in status
    assert "Final-Recipient: rfc822; erin@example.com\nAction: relayed\n" in status
    for other in ("carol", "dave", "frank", "bad"):
        assert other not in status
    assert parts[2][1].rstrip(b"\n") == msg.rstrip(b"\n")
    d.wait_log(r"delivery report sent to <bob@example\.org> \(2 recipients\)")
    # Still one report and the redirect: the null sender's transaction
    # sent none.
    assert len(sink.messages()) == 2


def test_success_report_failure_is_logged(lmtpd_factory):
    """A report the MTA does not take is logged; the mail stays
    delivered, its 250 already given."""
    d = lmtpd_factory(submission="smtp:127.0.0.1:1", submission_timeout="5s")
    with d.client() as c:
        c.lhlo()
        t = c.transaction("bob@example.org", ["alice@example.com"],
                          make_message("no mta"), rcpt_params=["NOTIFY=SUCCESS"])
        assert t.final_codes() == [250]
        c.quit()
    assert len(read_new(d.maildir("alice@example.com"))) == 1
    d.wait_log(r"delivery report to <bob@example\.org> failed: ")


@pytest.mark.peers
def test_postfix_success_report_reaches_the_sender(workdir, postfix, lmtpd):
    """End to end with a real Postfix: a sender asking for NOTIFY=SUCCESS
    gets exactly one "delivered" report. Postfix passes NOTIFY on to lmtpd
    (it offers DSN) and sends none itself; lmtpd's goes back through
    Postfix into the sender's mailbox, here also at lmtpd."""
    users = compile_map(os.path.join(workdir, "users"), "".join(
        "%s@example.com home=%s/%s\n" % (u, lmtpd.mail + "/example.com", u)
        for u in ("alice", "bob")))
    lmtpd.write_config(users=users, submission="smtp:127.0.0.1:%d" % postfix.port)
    lmtpd.signal(signal.SIGHUP)
    lmtpd.wait_log(r"reloaded configuration")
    postfix.start()
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as s:
        s.ehlo()
        s.sendmail("bob@example.com", ["alice@example.com"],
                   make_message("receipt please").replace(b"\n", b"\r\n"),
                   mail_options=["RET=HDRS", "ENVID=abc"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE"])

    def reports():
        return [split_trace(f)[1] for f in read_new(lmtpd.maildir("bob@example.com"))]
    wait_for(lambda: len(reports()) >= 1, 60,
             what="the report in bob's mailbox\n%s\n%s" % (lmtpd.log(), postfix.log()))
    assert len(read_new(lmtpd.maildir("alice@example.com"))) == 1
    parts = _parts(reports()[0])
    assert [p[0] for p in parts] == ["text/plain", "message/delivery-status",
                                     "text/rfc822-headers"]
    status = parts[1][1].decode()
    assert "Original-Envelope-Id: abc\n" in status
    # Postfix passes the ORCPT it was given, or the address itself.
    assert ("Final-Recipient: rfc822; alice@example.com\n"
            "Original-Recipient: rfc822; alice@example.com\n"
            "Action: delivered\nStatus: 2.0.0\n") in status
    assert b"Subject: receipt please" in parts[2][1]
    # Postfix sent no report of its own ("relayed" to a DSN-aware hop).
    wait_for(lambda: "status=sent" in postfix.log(), 30, what="postfix's status=sent")
    assert "sender delivery status notification" not in postfix.log()
    assert len(reports()) == 1


@pytest.mark.peers
def test_no_report_when_the_client_left_before_its_replies(lmtpd_factory, sink):
    """A client that leaves before its final replies delivers the message
    again; the report goes with that delivery, not with this one (each
    recipient's reply is flushed as it is decided, and a failed flush
    ends the transaction before the report)."""
    d = lmtpd_factory(submission=sink.submission, submission_timeout="10s")
    c = d.client()
    try:
        c.lhlo()
        c.send(b"MAIL FROM:<bob@example.org>\r\n"
               b"RCPT TO:<alice@example.com> NOTIFY=SUCCESS\r\nDATA\r\n")
        assert [c.reply().code for _ in range(3)] == [250, 250, 354]
        c.send(make_message("left early").replace(b"\n", b"\r\n") + b".\r\n")
    finally:
        c.close()
    d.wait_log(r"lost connection while sending final replies|no delivery report: ")
    assert len(read_new(d.maildir("alice@example.com"))) == 1
    assert sink.messages() == []
