/* What the libFuzzer targets share (tests/fuzz/): a fixed message that
 * has something for every kind of rule (headers, Received, MIME parts,
 * HTML, URIs), and a scratch folder. */
#ifndef LMTPD_FUZZ_MSG_H
#define LMTPD_FUZZ_MSG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char fuzz_message[] =
	"Return-Path: <a@example.com>\n"
	"Received: from mx.example.org (mx.example.org [192.0.2.1])\n"
	"\tby mail.example.net (Postfix) with ESMTP id 1234ABCD\n"
	"\tfor <b@example.net>; Mon, 1 Jan 2024 10:00:00 +0000\n"
	"From: \"Some One\" <a@example.com>\n"
	"To: b@example.net\n"
	"Subject: =?utf-8?q?hello_w=C3=B6rld?= free money\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
	"Message-ID: <123@example.com>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/alternative; boundary=\"b1\"\n"
	"\n"
	"--b1\n"
	"Content-Type: text/plain; charset=iso-8859-1\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Click here http://www.example.org/x?y=1 caf=E9 viagra\n"
	"--b1\n"
	"Content-Type: text/html; charset=utf-8\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"PGh0bWw+PGJvZHk+PGEgaHJlZj0iaHR0cDovL2V2aWwuZXhhbXBsZS5jb20vIj5DbGljazwv\n"
	"YT48aW1nIHNyYz0iaHR0cDovL2ltZy5leGFtcGxlLmNvbS9hLmdpZiI+PC9ib2R5PjwvaHRtbD4=\n"
	"--b1--\n";

/* A new folder under TMPDIR (removed at exit by the caller's choice; the
 * fuzzer runs for hours, so each target makes one and reuses it). */
static char *
fuzz_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = malloc(4096);

	if (dir == NULL)
		abort();
	snprintf(dir, 4096, "%s/lmtpd-fuzz.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return dir;
}

static void
fuzz_write(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

#endif
