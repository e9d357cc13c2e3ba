"""SpamAssassin's BodyEval, ImageInfo, check_for_uppercase,
check_abundant_unicode_ratio and check_mailfrom_matches_rcvd as lmtpd
implements them (scoring/eval_body.c): the hand-built messages of
tests/unit/test_eval_body.c give the same hits under SpamAssassin itself
as the unit tests expect of lmtpd."""
import os
import re
import subprocess
import sys

import pytest

import integlib

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")


def test_eval_body_unit_cases_match_spamassassin():
    if subprocess.run(["perl", "-MMail::SpamAssassin", "-e", "1"],
                      capture_output=True).returncode != 0:
        pytest.skip("Mail::SpamAssassin is not installed (package spamassassin)")
    prog = os.path.join(integlib.BUILDDIR, "tests", "unit", "test_eval_body")
    if not os.path.exists(prog):
        pytest.skip("the unit tests are not built yet (make check builds them)")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "sa_eval_cases.py"), prog],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^\d+ cases, 0 differences$", r.stdout, re.M), r.stdout
