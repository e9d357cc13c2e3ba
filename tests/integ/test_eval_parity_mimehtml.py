"""Hit parity with SpamAssassin for the MIME and HTML eval rules
(scoring/eval_mime.c, scoring/eval_html.c: MIMEEval, HTMLEval, BodyEval's
multipart_alternative_difference, HeaderEval's
check_for_faraway_charset_in_headers) on 300 training messages (easy-ham-1
and spam-1 only): a private spamd and lmtpd-score score the same messages,
and of the (message, rule) pairs where either side hits one of these rules
at least 99% must be hits on both sides.  The rules are every rule of
SpamAssassin's files that calls one of these functions, found in the files
themselves.  The hand-built unit cases of tests/unit/test_eval.c are checked
against SpamAssassin by test_sa_parity.py."""
import saparity

FUNCTIONS = (
    "check_for_mime", "check_for_mime_html", "check_for_mime_html_only",
    "check_mime_multipart_ratio", "check_msg_parse_flags", "check_for_ascii_text_illegal",
    "check_abundant_unicode_ratio", "check_qp_ratio", "check_for_faraway_charset",
    "check_for_faraway_charset_in_headers", "check_ma_non_text", "check_base64_length",
    "multipart_alternative_difference", "multipart_alternative_difference_count",
    "html_test", "html_range", "html_eval", "html_tag_exists", "html_tag_balance",
    "html_text_match", "html_text_not_match", "html_image_only", "html_image_ratio",
    "html_title_subject_ratio", "html_charset_faraway", "check_iframe_src",
)


def test_mime_html_eval_hits_match_spamassassin():
    saparity.require_spamd()
    names = saparity.eval_rule_names(FUNCTIONS)
    assert "MPART_ALT_DIFF" in names and "HTML_IMAGE_ONLY_08" in names, names
    r = saparity.run_sa_parity(["--min", "0.99", "--compare", ",".join(names)], timeout=900)
    assert r.returncode == 0, "parity below 99%%:\n%s" % r.stdout
