/* libFuzzer target: one whole message through what scoring does with it.
 * The input is the message as delivered; it is scored as lmtpd-score
 * does (scoring_score_message: MIME, transfer decoding, charsets, the
 * rendered body, HTML, URIs, the Received chain, every rule with the
 * native eval tests), tokenized for Bayes, rewritten with its X-Spam-*
 * headers, and every view the rules may not have asked for is built too.
 *
 * Rules: FUZZ_RULES (a comma list of folders), default
 * /usr/share/spamassassin (Debian's spamassassin package). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "buf.h"
#include "cfg.h"
#include "msgview.h"
#include "rules.h"
#include "score.h"
#include "scoring.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lmtpd_config *cfg;
static struct scoring *sc;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *rules = getenv("FUZZ_RULES");
	char *error = NULL;

	(void)argc;
	(void)argv;
	if ((cfg = cfg_load(NULL, &error)) == NULL) {
		fprintf(stderr, "fuzz_message: %s\n", error);
		exit(1);
	}
	sc = scoring_new(cfg, rules != NULL ? rules : "/usr/share/spamassassin", NULL);
	if (sc == NULL) {
		fprintf(stderr, "fuzz_message: no rules\n");
		exit(1);
	}
	/* the tokenizer is called below; no database */
	scoring_set_bayes(sc, false, false);
	scoring_after_fork(sc);
	return 0;
}

/* The views no rule of the set may have looked at. */
static void
all_views(const char *msg, size_t len)
{
	static const char *const requests[] = {
		"ALL", "ALL:raw", "From:addr", "From:name", "To:addr", "ToCc",
		"MESSAGEID", "EnvelopeFrom", "Subject", "Subject:raw",
		"Received:host", "Received:ip", "Received:revip", "From:domain",
		"X-Spam-Relays-Untrusted", "X-Spam-Relays-Trusted",
		"X-Spam-Relays-External", "X-Spam-Relays-Internal",
		"Reply-To:first:addr", "Received:last:ip",
	};
	struct msgview *mv = msgview_new(rules_settings(scoring_rules(sc)), msg, len,
					 "sender@example.com");
	struct buf b;
	size_t n;

	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		buf_reset(&b);
		(void)msgview_get(mv, requests[i], &b);
	}
	(void)msgview_body(mv);
	(void)msgview_body_visible(mv);
	(void)msgview_body_invisible(mv);
	(void)msgview_rawbody(mv);
	(void)msgview_uris(mv);
	(void)msgview_html_uris(mv);
	(void)msgview_html(mv, &n);
	(void)msgview_relays(mv);
	n = msgview_part_count(mv);
	for (size_t i = 0; i < n && i < 64; i++) {
		buf_reset(&b);
		(void)msgview_part_get(mv, i, "ALL", &b);
		buf_reset(&b);
		(void)msgview_part_get(mv, i, "Content-Type", &b);
	}
	buf_free(&b);
	msgview_free(&mv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct score_result r;
	struct bayes_tokens toks;
	struct buf out;

	scoring_score_message(sc, msg, size, "sender@example.com", NULL, &r);
	buf_init(&out, 0);
	scoring_rewrite(sc, msg, size, &r, &out);
	buf_free(&out);
	score_result_free(&r);

	scoring_tokenize(sc, msg, size, &toks);
	bayes_tokens_free(&toks);

	all_views(msg, size);
	return 0;
}
