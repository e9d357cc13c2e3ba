"""Hit parity with SpamAssassin for the Received-chain eval rules
(scoring/eval_relay.c: RelayEval, and HeaderEval's Date-against-Received,
Outlook Message-ID, ratware and forged-webmail tests).

1. The hand-built cases of tests/unit/test_eval_relay.c give the same hits
   under SpamAssassin itself as the unit tests expect of lmtpd.
2. On 300 training messages (easy-ham-1 and spam-1 only), a private spamd
   and lmtpd-score score the same messages; of the (message, rule) pairs
   where either side hits one of these rules, at least 99% must be hits on
   both sides.  The rules are every rule of SpamAssassin's files that calls
   one of these functions, found in the files themselves."""
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

RULES = "/usr/share/spamassassin"
FUNCTIONS = (
    "check_for_shifted_date", "check_outlook_message_id", "check_ratware_name_id",
    "check_ratware_envelope_from", "gated_through_received_hdr_remover",
    "check_for_msn_groups_headers", "check_for_forged_hotmail_received_headers",
    "check_for_no_hotmail_received_headers", "check_for_forged_eudoramail_received_headers",
    "check_for_forged_yahoo_received_headers", "check_for_forged_juno_received_headers",
    "check_for_forged_gmail_received_headers", "check_for_fake_aol_relay_in_rcvd",
    "check_for_forged_gw05_received_headers", "check_for_numeric_helo",
    "check_for_illegal_ip", "helo_ip_mismatch", "check_for_sender_no_reverse",
    "check_for_no_rdns_dotcom_helo", "check_for_forged_received_trail",
    "check_for_forged_received_ip_helo",
)


def rule_names():
    line = re.compile(r"^\s*(?:header|body|rawbody|full)\s+(\S+)\s+eval:(\w+)\(")
    names = set()
    for path in glob.glob(os.path.join(RULES, "*.cf")):
        with open(path, encoding="latin-1") as f:
            for text in f:
                m = line.match(text)
                if m and m.group(2) in FUNCTIONS:
                    names.add(m.group(1))
    return sorted(names)


def test_relay_unit_cases_match_spamassassin():
    if subprocess.run(["perl", "-MMail::SpamAssassin", "-e", "1"],
                      capture_output=True).returncode != 0:
        pytest.skip("Mail::SpamAssassin is not installed (package spamassassin)")
    prog = os.path.join(integlib.BUILDDIR, "tests", "unit", "test_eval_relay")
    if not os.path.exists(prog):
        pytest.skip("the unit tests are not built yet (make check builds them)")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "sa_eval_cases.py"), prog],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^\d+ cases, 0 differences$", r.stdout, re.M), r.stdout


def test_relay_eval_hits_match_spamassassin():
    for tool in ("spamd", "spamc"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed (quickstart installs spamassassin and spamc)"
                        % tool)
    assert os.path.isfile(os.path.join(RULES, "50_scores.cf")), "SpamAssassin's rules"
    names = rule_names()
    assert "DATE_IN_FUTURE_12_24" in names and "MSGID_OUTLOOK_INVALID" in names, names
    data = corpus.corpus_dir()
    score = os.path.join(integlib.BUILDDIR, "scoring", "lmtpd-score")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "sa_parity.py"),
                        "--lmtpd-score", score, "--rules", RULES, "--corpus", data,
                        "--count", "300", "--min", "0.99", "--compare", ",".join(names)],
                       capture_output=True, text=True, timeout=900)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    assert "messages: 300" in r.stdout
    assert r.returncode == 0, "parity below 99%%:\n%s" % r.stdout
