"""SpamAssassin's BodyEval, ImageInfo, check_for_uppercase,
check_abundant_unicode_ratio and check_mailfrom_matches_rcvd as lmtpd
implements them (scoring/eval_body.c): the hand-built messages of
tests/unit/test_eval_body.c give the same hits under SpamAssassin itself
as the unit tests expect of lmtpd."""
import saparity


def test_eval_body_unit_cases_match_spamassassin():
    r = saparity.run_eval_cases("test_eval_body")
    assert r.returncode == 0, r.stdout + r.stderr
    assert saparity.no_differences(r), r.stdout
