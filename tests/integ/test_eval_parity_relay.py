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
import saparity

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


def test_relay_unit_cases_match_spamassassin():
    r = saparity.run_eval_cases("test_eval_relay")
    assert r.returncode == 0, r.stdout + r.stderr
    assert saparity.no_differences(r), r.stdout


def test_relay_eval_hits_match_spamassassin():
    saparity.require_spamd()
    names = saparity.eval_rule_names(FUNCTIONS)
    assert "DATE_IN_FUTURE_12_24" in names and "MSGID_OUTLOOK_INVALID" in names, names
    r = saparity.run_sa_parity(["--min", "0.99", "--compare", ",".join(names)], timeout=900)
    assert r.returncode == 0, "parity below 99%%:\n%s" % r.stdout
