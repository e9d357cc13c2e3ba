"""Vacation through the real daemon, replies caught by Postfix's
smtp-sink: once per :days whatever the Subject or the recipient's detail,
mail to an alias (ORCPT) answered, and every refusal logged with its
reason."""
import os

import pytest

from integlib import make_message
from sieve_helpers import header, write_script


def home(d, addr):
    local, _, domain = addr.partition("@")
    return os.path.join(d.mail, domain, local)


@pytest.fixture
def sieve_lmtpd(lmtpd_factory, sink):
    """lmtpd handing vacation mail to the smtp-sink."""
    return lmtpd_factory(submission=sink.submission, submission_timeout="10s")


@pytest.mark.peers
def test_vacation_once_per_days_any_subject_or_detail(sieve_lmtpd, sink):
    """Without :handle or :subject the handle comes from the script's own
    arguments: new Subjects and other details of the recipient do not
    start a new history (RFC 5230 4.2)."""
    d = sieve_lmtpd
    write_script(home(d, "bob@example.com"), """require "vacation";
vacation :days 7 "I am away this week.";
""")
    for subject, rcpt in (("Lunch?", "bob@example.com"),
                          ("Re: Lunch?", "bob@example.com"),
                          ("Meeting notes", "bob+a@example.com"),
                          ("Lunch?", "bob+b@example.com")):
        m = make_message(subject=subject, sender="alice@example.org", to=rcpt)
        assert d.deliver([rcpt], m, sender="alice@example.org").final_codes() == [250]
    # Another sender still gets a reply (and marks the end).
    m = make_message(subject="Hi", sender="carol@example.org", to="bob@example.com")
    assert d.deliver(["bob@example.com"], m, sender="carol@example.org").final_codes() \
        == [250]
    replies = sink.wait_messages(2)
    assert [r["rcpts"] for r in replies] == [["alice@example.org"], ["carol@example.org"]]
    # RFC 5230 4.3, as Pigeonhole: "Auto: " and the original subject
    assert header(replies[0], "Subject") == "Auto: Lunch?"
    assert d.log().count("no vacation reply to <alice@example.org>: "
                         "already answered within :days") == 3


@pytest.mark.peers
def test_vacation_alias_and_refusals_logged(sieve_lmtpd, sink):
    """Without :from, mail that came through an alias (ORCPT) is addressed
    to the user and answered; what lmtpd does not answer (not addressed to
    the user, bulk, auto-submitted, a mailer daemon, the null sender) is
    logged with the reason, libsieve's own checks included."""
    d = sieve_lmtpd
    bob = "bob@example.com"
    write_script(home(d, bob), """require "vacation";
vacation :addresses ["team@example.net"] "Back on Monday.";
""")
    aliased = make_message(subject="via alias", sender="dave@example.org",
                           to="bobby@example.org")
    with d.client() as c:
        c.lhlo()
        t = c.transaction("dave@example.org", [bob], aliased,
                          rcpt_params=["ORCPT=rfc822;bobby@example.org"])
        c.quit()
    assert t.final_codes() == [250]
    [reply] = sink.wait_messages(1)
    assert reply["rcpts"] == ["dave@example.org"]
    assert b"Back on Monday." in reply["raw"]
    for sender, extra, to in (
            ("carol@example.org", [], "sales@example.net"),
            ("news@example.org", ["Precedence: bulk"], bob),
            ("robot@example.org", ["Auto-Submitted: auto-generated"], bob),
            ("MAILER-DAEMON@example.org", [], bob),
            ("", [], bob)):
        m = make_message(sender=sender or "x@example.org", to=to, extra_headers=extra)
        assert d.deliver([bob], m, sender=sender).final_codes() == [250]
    # :addresses still counts as the user's.
    m = make_message(subject="team", sender="erin@example.org", to="team@example.net")
    assert d.deliver([bob], m, sender="erin@example.org").final_codes() == [250]
    replies = sink.wait_messages(2)
    assert [r["rcpts"] for r in replies] == [["dave@example.org"], ["erin@example.org"]]
    log = d.log()
    for sender, why in (("carol@example.org", "message not addressed to the user"),
                        ("news@example.org", "Precedence: bulk, list or junk"),
                        ("robot@example.org", "Auto-Submitted message"),
                        ("MAILER-DAEMON@example.org", "sender is a mailer daemon or a list"),
                        ("", "null envelope sender")):
        line = "no vacation reply to <%s>: %s" % (sender, why)
        assert line in log, line


@pytest.mark.peers
def test_vacation_long_subject_and_reason_lines(sieve_lmtpd, sink):
    """A long non-ASCII :subject is encoded-words of at most 75 characters
    on folded lines of at most 76 (RFC 2047); a reason with a line over
    998 octets is sent quoted-printable (RFC 2045).  Python's email parser
    reads both back."""
    import email
    import email.policy
    d = sieve_lmtpd
    subject = "Gr\u00fc\u00dfe aus dem Urlaub, zur\u00fcck am Montag " * 6
    reason = "Ich bin weg. " + "\u00e4" * 3000 + "\nZweite Zeile."
    write_script(home(d, "bob@example.com"), 'require "vacation";\n'
                 'vacation :subject "%s" "%s";\n' % (subject, reason))
    m = make_message(subject="Hallo", sender="alice@example.org", to="bob@example.com")
    assert d.deliver(["bob@example.com"], m, sender="alice@example.org").final_codes() \
        == [250]
    [reply] = sink.wait_messages(1)
    raw = reply["raw"]
    head, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    assert all(len(line) <= 998 for line in raw.splitlines())
    for line in head.splitlines():
        if b"=?" in line:
            assert len(line) <= 76, line
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == subject
    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
    assert parsed.get_content().rstrip("\n") == reason
