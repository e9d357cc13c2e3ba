"""Rule-hit parity with SpamAssassin (issue 3): 300 training messages
(easy-ham-1 and spam-1 only) scored by a private spamd (Debian's
spamassassin, the same rule files, network tests and Bayes off) and by
lmtpd-score; of the (message, rule) pairs where either side hits a plain
regex rule (header, body, rawbody, full, uri, mimeheader), at least 99%
must be hits on both sides.  tests/tools/sa_parity.py does the work and
prints the disagreements."""
import os
import re
import shutil
import subprocess
import sys

import pytest

import integlib

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
sys.path.insert(0, TOOLS)
import corpus  # noqa: E402

RULES = "/usr/share/spamassassin"


def test_rule_hits_match_spamassassin():
    for tool in ("spamd", "spamc"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed (quickstart installs spamassassin and spamc)"
                        % tool)
    assert os.path.isfile(os.path.join(RULES, "50_scores.cf")), "SpamAssassin's rules"
    data = corpus.corpus_dir()
    score = os.path.join(integlib.BUILDDIR, "scoring", "lmtpd-score")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "sa_parity.py"),
                        "--lmtpd-score", score, "--rules", RULES, "--corpus", data,
                        "--count", "300", "--min", "0.99"],
                       capture_output=True, text=True, timeout=600)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    assert "messages: 300" in r.stdout
    assert r.returncode == 0, "parity below 99%%:\n%s" % r.stdout


def test_eval_unit_cases_match_spamassassin():
    """The hand-built messages of tests/unit/test_eval.c give the same hits
    under SpamAssassin itself as the unit tests expect of lmtpd."""
    if subprocess.run(["perl", "-MMail::SpamAssassin", "-e", "1"],
                      capture_output=True).returncode != 0:
        pytest.skip("Mail::SpamAssassin is not installed (package spamassassin)")
    prog = os.path.join(integlib.BUILDDIR, "tests", "unit", "test_eval")
    if not os.path.exists(prog):
        pytest.skip("the unit tests are not built yet (make check builds them)")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "sa_eval_cases.py"), prog],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^\d+ cases, 0 differences$", r.stdout, re.M), r.stdout
