"""Shared code of the SpamAssassin parity tests (test_sa_parity.py,
test_sa_score_parity.py, test_eval_parity_*.py): the skip checks and the
runs of tests/tools/sa_eval_cases.py (the hand-built cases of a unit test
program through SpamAssassin itself) and tests/tools/sa_parity.py (a
private spamd against lmtpd-score on 300 training messages)."""
import glob
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


SA_RULES = "/usr/share/spamassassin"


def copy_sa_rules(dest, local_cf):
    """SpamAssassin's rule files and local_cf (as zz_local.cf) in the new
    folder dest, readable by the users lmtpd and spamd run as (spamd's -C
    takes one folder); skips the test without SpamAssassin's rules."""
    if not os.path.isfile(os.path.join(SA_RULES, "50_scores.cf")):
        pytest.skip("SpamAssassin's rules are not installed (package spamassassin)")
    os.makedirs(dest, exist_ok=True)
    os.chmod(dest, 0o755)
    for f in os.listdir(SA_RULES):
        if f.endswith(".cf"):
            shutil.copy(os.path.join(SA_RULES, f), dest)
    with open(os.path.join(dest, "zz_local.cf"), "w") as f:
        f.write(local_cf)
    for f in os.listdir(dest):
        os.chmod(os.path.join(dest, f), 0o644)
    return dest

RULES = "/usr/share/spamassassin"
COUNT = 300


def eval_rule_names(functions):
    """Every rule of SpamAssassin's files that calls one of functions."""
    line = re.compile(r"^\s*(?:header|body|rawbody|full)\s+(\S+)\s+eval:(\w+)\(")
    names = set()
    for path in glob.glob(os.path.join(RULES, "*.cf")):
        with open(path, encoding="latin-1") as f:
            for text in f:
                m = line.match(text)
                if m and m.group(2) in functions:
                    names.add(m.group(1))
    return sorted(names)


def run_eval_cases(program):
    """Runs sa_eval_cases.py on BUILDDIR/tests/unit/program and prints its
    output; skips without Mail::SpamAssassin or the built program."""
    if subprocess.run(["perl", "-MMail::SpamAssassin", "-e", "1"],
                      capture_output=True).returncode != 0:
        pytest.skip("Mail::SpamAssassin is not installed (package spamassassin)")
    prog = os.path.join(integlib.BUILDDIR, "tests", "unit", program)
    if not os.path.exists(prog):
        pytest.skip("the unit tests are not built yet (make check builds them)")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "sa_eval_cases.py"), prog],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout, r.stderr)
    return r


def no_differences(r):
    """True when sa_eval_cases.py's summary line counts some cases and 0
    differences (no cases at all compare nothing)."""
    return re.search(r"^[1-9]\d* cases, 0 differences$", r.stdout, re.M) is not None


def require_spamd():
    """Skips without spamd and spamc; SpamAssassin's rules must be there."""
    for tool in ("spamd", "spamc"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed (quickstart installs spamassassin and spamc)"
                        % tool)
    assert os.path.isfile(os.path.join(RULES, "50_scores.cf")), "SpamAssassin's rules"


def run_sa_parity(args, timeout):
    """Runs sa_parity.py with args on COUNT training messages, prints its
    output and checks that it scored them all; returns the run."""
    data = corpus.corpus_dir()
    score = os.path.join(integlib.BUILDDIR, "scoring", "lmtpd-score")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "sa_parity.py"),
                        "--lmtpd-score", score, "--rules", RULES, "--corpus", data,
                        "--count", str(COUNT)] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    assert "messages: %d" % COUNT in r.stdout
    return r
