"""Rule-hit parity with SpamAssassin (issue 3): 300 training messages
(easy-ham-1 and spam-1 only) scored by a private spamd (Debian's
spamassassin, the same rule files, network tests and Bayes off) and by
lmtpd-score; of the (message, rule) pairs where either side hits a plain
regex rule (header, body, rawbody, full, uri, mimeheader), at least 99%
must be hits on both sides.  tests/tools/sa_parity.py does the work and
prints the disagreements."""
import saparity


def test_rule_hits_match_spamassassin():
    saparity.require_spamd()
    r = saparity.run_sa_parity(["--min", "0.99"], timeout=600)
    assert r.returncode == 0, "parity below 99%%:\n%s" % r.stdout


def test_eval_unit_cases_match_spamassassin():
    """The hand-built messages of tests/unit/test_eval.c give the same hits
    under SpamAssassin itself as the unit tests expect of lmtpd."""
    r = saparity.run_eval_cases("test_eval")
    assert r.returncode == 0, r.stdout + r.stderr
    assert saparity.no_differences(r), r.stdout
