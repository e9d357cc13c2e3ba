"""SpamAssassin's FreeMail plugin (check_freemail_from, _header, _replyto,
_body) and the HeaderEval recipient, template, subject and
illegal-character checks as lmtpd implements them (scoring/eval_freemail.c,
scoring/eval_header.c): the hand-built messages of
tests/unit/test_eval_freemail.c give the same hits under SpamAssassin
itself as the unit tests expect of lmtpd."""
import saparity


def test_eval_freemail_unit_cases_match_spamassassin():
    r = saparity.run_eval_cases("test_eval_freemail")
    assert r.returncode == 0, r.stdout + r.stderr
    assert saparity.no_differences(r), r.stdout
