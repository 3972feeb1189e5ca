/* SPDX-License-Identifier: MIT */
/* Unit tests for the "already scanned" mark: key files, HMAC, verify, Message-ID (mf_mark). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mf_mark.h"
#include "tap.h"
#include "util.h"

#define SECRET "mf-test-secret-0123456789"   /* 25 bytes, shell-safe */
#define T0 1700000000
#define SENDER "alice@example.org"
#define MSGID "<abc@example.org>"
/*
 * HMAC-SHA256 of "mf1|1700000000|17:alice@example.org|<abc@example.org>" keyed
 * by SECRET, computed with OpenSSL 3.0 on the command line:
 *   printf '%s' 'mf1|1700000000|17:alice@example.org|<abc@example.org>' |
 *     openssl dgst -r -sha256 -hmac 'mf-test-secret-0123456789'
 */
#define KAT_HEX "a1807e067a103eff02ddfcff51173250a4709a1a7d0ba602af454981d239fc36"

static char dir[PATH_MAX];


/* Write a key file with mode; its path. */
static const char *keyfile(const char *name, const char *content, size_t n, mode_t mode)
{
	const char *p = pathf("%s/%s", dir, name);

	unlink(p);
	if (t_write_file(p, content, n) < 0 || chmod(p, mode) < 0)
		tap_diag("keyfile %s: %s", p, strerror(errno));
	return p;
}

static void load_ok(const char *path, struct mf_mark_key *key, const char *name)
{
	struct mf_err err = { 0 };

	if (!ok(mf_mark_key_load(path, key, &err) == MF_OK, "key load: %s", name))
		tap_diag("%s", err.msg);
}

static void load_bad(const char *path, const char *want, const char *name)
{
	struct mf_mark_key key = { 0 };
	struct mf_err err = { 0 };
	enum mf_status st = mf_mark_key_load(path, &key, &err);

	is_int(st, MF_ECONFIG, name);
	if (!ok(strstr(err.msg, want) != NULL, "%s: message says \"%s\"", name, want))
		tap_diag("got: %s", err.msg);
	ok(key.data == NULL && key.len == 0, "%s: no key left behind", name);
	mf_mark_key_free(&key);
}

static void test_key_files(void)
{
	struct mf_mark_key a = { 0 }, b = { 0 }, c = { 0 };
	char big[5000];
	char m1[MF_MARK_MAX], m2[MF_MARK_MAX];
	struct mf_err err;

	load_ok(keyfile("k600", SECRET, strlen(SECRET), 0600), &a, "0600");
	is_int((long long)a.len, (long long)strlen(SECRET), "key is the file's bytes");
	load_ok(keyfile("k400", SECRET, strlen(SECRET), 0400), &b, "0400");
	mf_mark_key_free(&b);
	ok(b.data == NULL && b.len == 0, "key_free clears the struct");
	mf_mark_key_free(&b);
	ok(1, "key_free twice is harmless");

	load_bad(keyfile("k640", SECRET, strlen(SECRET), 0640), "chmod 600", "0640 refused");
	load_bad(keyfile("k644", SECRET, strlen(SECRET), 0644), "chmod 600", "0644 refused");
	load_bad(keyfile("k602", SECRET, strlen(SECRET), 0602), "chmod 600", "0602 refused");
	unlink(pathf("%s/klink", dir));
	if (symlink(pathf("%s/k600", dir), pathf("%s/klink", dir)) < 0)
		tap_diag("symlink: %s", strerror(errno));
	load_bad(pathf("%s/klink", dir), "symlink", "a symlink to a 0600 file refused");
	mkdir(pathf("%s/kdir", dir), 0700);
	load_bad(pathf("%s/kdir", dir), "not a regular file", "a directory refused");
	load_bad(pathf("%s/nonexistent", dir), "No such file", "a missing file");
	load_bad(keyfile("kshort", "0123456789abcde", 15, 0600), "16 to 4096", "15 bytes refused");
	load_bad(keyfile("kshortnl", "0123456789abcde\n", 16, 0600), "16 to 4096",
		 "15 bytes and a newline refused");
	load_ok(keyfile("k16", "0123456789abcdef", 16, 0600), &b, "16 bytes");
	mf_mark_key_free(&b);
	memset(big, 'x', sizeof big);
	load_ok(keyfile("k4096", big, 4096, 0600), &b, "4096 bytes");
	mf_mark_key_free(&b);
	load_ok(keyfile("k4096nl", (memcpy(big + 4096, "\r\n", 2), big), 4098, 0600), &b,
		"4096 bytes and CRLF");
	is_int((long long)b.len, 4096, "CRLF stripped");
	mf_mark_key_free(&b);
	memset(big, 'x', sizeof big);
	load_bad(keyfile("k4097", big, 4097, 0600), "4096", "4097 bytes refused");
	load_bad(keyfile("k5000", big, sizeof big, 0600), "4096", "5000 bytes refused");

	load_ok(keyfile("knl", SECRET "\n", strlen(SECRET) + 1, 0600), &b, "secret and newline");
	load_ok(keyfile("kcrlf", SECRET "\r\n", strlen(SECRET) + 2, 0600), &c, "secret and CRLF");
	is_int((long long)b.len, (long long)strlen(SECRET), "trailing newline stripped");
	mf_mark_make(&a, T0, SENDER, MSGID, m1, &err);
	mf_mark_make(&b, T0, SENDER, MSGID, m2, &err);
	is_str(m2, m1, "\"secret\\n\" and \"secret\" give the same mark");
	mf_mark_make(&c, T0, SENDER, MSGID, m2, &err);
	is_str(m2, m1, "\"secret\\r\\n\" and \"secret\" give the same mark");
	mf_mark_key_free(&b);
	mf_mark_key_free(&c);
	load_ok(keyfile("knl2", SECRET "\n\n", strlen(SECRET) + 2, 0600), &b, "two newlines");
	is_int((long long)b.len, (long long)strlen(SECRET) + 1, "only one newline stripped");
	mf_mark_key_free(&b);
	mf_mark_key_free(&a);
}

/* HMAC of data keyed by SECRET as the openssl command computes it, or "". */
static void openssl_hmac(const char *data, char hex[65])
{
	char cmd[512], line[256];
	FILE *f;

	hex[0] = '\0';
	/* data holds no single quote (checked by the caller's fixtures) */
	snprintf(cmd, sizeof cmd, "printf '%%s' '%s' | openssl dgst -r -sha256 -hmac '%s' 2>/dev/null",
		 data, SECRET);
	f = popen(cmd, "r");
	if (!f)
		return;
	if (fgets(line, sizeof line, f) && strlen(line) > 64 && line[64] == ' ')
		snprintf(hex, 65, "%.64s", line);
	pclose(f);
}

static void test_known_answer(const struct mf_mark_key *key)
{
	char m[MF_MARK_MAX], hex[65], want[MF_MARK_MAX];
	struct mf_err err = { 0 };

	is_int(mf_mark_make(key, T0, SENDER, MSGID, m, &err), MF_OK, "make");
	is_str(m, "mf1; t=1700000000; h=" KAT_HEX, "known answer (hard-coded)");
	openssl_hmac("mf1|1700000000|17:alice@example.org|<abc@example.org>", hex);
	snprintf(want, sizeof want, "mf1; t=1700000000; h=%s", hex);
	if (hex[0])
		is_str(m, want, "known answer (openssl dgst now)");
	else
		ok(1, "# SKIP openssl command not available");
	/* the null sender and no Message-ID */
	mf_mark_make(key, 1, "", "", m, &err);
	openssl_hmac("mf1|1|0:|", hex);
	snprintf(want, sizeof want, "mf1; t=1; h=%s", hex);
	if (hex[0])
		is_str(m, want, "known answer: null sender, no Message-ID");
	else
		ok(1, "# SKIP openssl command not available");
	mf_mark_make(key, 0, NULL, NULL, want, &err);
	mf_mark_make(key, 0, "", "", m, &err);
	is_str(want, m, "NULL sender and msgid are \"\"");
}

static void verify_is(const struct mf_mark_key *key, const char *value, const char *sender,
		      const char *msgid, time_t now, long max_age, enum mf_status want,
		      const char *why, const char *name)
{
	struct mf_err err = { 0 };
	enum mf_status st = mf_mark_verify(key, value, sender, msgid, now, max_age, &err);

	if (!is_int(st, want, name))
		tap_diag("value \"%s\": %s", value, err.msg);
	if (why && !ok(strstr(err.msg, why) != NULL, "%s: says \"%s\"", name, why))
		tap_diag("got: %s", err.msg);
}

static void test_verify(const struct mf_mark_key *key, const struct mf_mark_key *other)
{
	char m[MF_MARK_MAX], v[200];
	struct mf_err err = { 0 };
	const char *h;

	mf_mark_make(key, T0, SENDER, MSGID, m, &err);
	h = strstr(m, "h=") + 2;
	verify_is(key, m, SENDER, MSGID, T0, 3600, MF_OK, NULL, "round trip, same second");
	verify_is(key, m, SENDER, MSGID, T0 + 3600, 3600, MF_OK, NULL, "round trip at max_age");
	verify_is(key, m, SENDER, MSGID, T0 - 300, 3600, MF_OK, NULL, "300 s in the future is fine");
	verify_is(key, m, "bob@example.org", MSGID, T0, 3600, MF_EPOLICY, "does not match",
		  "other sender");
	verify_is(key, m, "", MSGID, T0, 3600, MF_EPOLICY, "does not match", "null sender");
	verify_is(key, m, SENDER, "<abd@example.org>", T0, 3600, MF_EPOLICY, "does not match",
		  "other msgid");
	verify_is(key, m, SENDER, "", T0, 3600, MF_EPOLICY, "does not match", "no msgid");
	verify_is(other, m, SENDER, MSGID, T0, 3600, MF_EPOLICY, "does not match", "other key");
	snprintf(v, sizeof v, "mf1; t=%d; h=%s", T0 + 1, h);
	verify_is(key, v, SENDER, MSGID, T0 + 1, 3600, MF_EPOLICY, "does not match",
		  "tampered t");
	snprintf(v, sizeof v, "mf1; t=0%d; h=%s", T0, h);
	verify_is(key, v, SENDER, MSGID, T0, 3600, MF_EPOLICY, "malformed",
		  "t with a leading zero is malformed");
	snprintf(v, sizeof v, "%s", m);
	v[strlen(v) - 1] = v[strlen(v) - 1] == '0' ? '1' : '0';
	verify_is(key, v, SENDER, MSGID, T0, 3600, MF_EPOLICY, "does not match", "tampered h");
	verify_is(key, m, SENDER, MSGID, T0 + 3601, 3600, MF_EPOLICY, "older than 3600",
		  "stale (now - t > max_age)");
	verify_is(key, m, SENDER, MSGID, T0 + 1, 0, MF_EPOLICY, "older than", "max_age 0");
	verify_is(key, m, SENDER, MSGID, T0 - 301, 3600, MF_EPOLICY, "future",
		  "more than 300 s in the future");

	snprintf(v, sizeof v, "  mf1 ;t=%d  ;\th=%s \t", T0, h);
	verify_is(key, v, SENDER, MSGID, T0, 3600, MF_OK, NULL, "blanks around ';' and at the ends");
	snprintf(v, sizeof v, "mf1;t=%d;h=%s", T0, h);
	verify_is(key, v, SENDER, MSGID, T0, 3600, MF_OK, NULL, "no blanks at all");
}

static void malformed(const struct mf_mark_key *key, const char *name,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void malformed(const struct mf_mark_key *key, const char *name,
		      const char *fmt, ...)
{
	char v[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof v, fmt, ap);
	va_end(ap);
	verify_is(key, v, SENDER, MSGID, T0, 3600, MF_EPOLICY, "malformed mark", name);
}

static void test_malformed(const struct mf_mark_key *key)
{
	char m[MF_MARK_MAX], h[80], up[80], h63[80], h65[100];
	struct mf_err err = { 0 };
	size_t i;

	mf_mark_make(key, T0, SENDER, MSGID, m, &err);
	snprintf(h, sizeof h, "%s", strstr(m, "h=") + 2);
	snprintf(h63, sizeof h63, "%.63s", h);
	snprintf(h65, sizeof h65, "%s0", h);
	/* decided: make writes lowercase, and verify takes lowercase only */
	for (i = 0; h[i]; i++)
		up[i] = (char)(h[i] >= 'a' && h[i] <= 'f' ? h[i] - 32 : h[i]);
	up[i] = '\0';
	ok(strcmp(up, h) != 0, "fixture: the HMAC has letters to uppercase");
	malformed(key, "uppercase hex is refused", "mf1; t=1700000000; h=%s", up);
	malformed(key, "63 hex digits", "mf1; t=1700000000; h=%s", h63);
	malformed(key, "65 hex digits", "mf1; t=1700000000; h=%s", h65);
	malformed(key, "trailing ';'", "mf1; t=1700000000; h=%s;", h);
	malformed(key, "trailing junk", "mf1; t=1700000000; h=%s x", h);
	malformed(key, "missing t", "mf1; h=%s", h);
	malformed(key, "missing h", "mf1; t=1700000000");
	malformed(key, "empty t", "mf1; t=; h=%s", h);
	malformed(key, "negative t", "mf1; t=-1700000000; h=%s", h);
	malformed(key, "t with a sign", "mf1; t=+1700000000; h=%s", h);
	malformed(key, "t of 19 digits", "mf1; t=1700000000000000000; h=%s", h);
	malformed(key, "t not decimal", "mf1; t=1.7e9; h=%s", h);
	malformed(key, "fields in the wrong order", "mf1; h=%s; t=1700000000", h);
	malformed(key, "blanks around '='", "mf1; t = 1700000000; h=%s", h);
	malformed(key, "other version", "mf2; t=1700000000; h=%s", h);
	malformed(key, "uppercase tag", "MF1; t=1700000000; h=%s", h);
	malformed(key, "no tag", "t=1700000000; h=%s", h);
	malformed(key, "no ';'", "mf1 t=1700000000 h=%s", h);
	malformed(key, "uppercase field names", "mf1; T=1700000000; H=%s", h);
	malformed(key, "non-hex in h", "mf1; t=1700000000; h=%.60s zzzz", h);
	malformed(key, "empty value", "%s", "");
	malformed(key, "a static string", "%s", "X-Scanned: yes");
	verify_is(key, NULL, SENDER, MSGID, T0, 3600, MF_EPOLICY, "malformed", "NULL value");
}

/* mf_mark_message_id over a file holding text. */
static void msgid_is(const char *text, size_t outsz, const char *want, const char *name)
{
	const char *p = pathf("%s/msg", dir);
	char out[256];
	struct mf_err err = { 0 };
	enum mf_status st;
	int fd;

	t_write_str(p, text);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	/* a file offset at the end must not matter: it reads from offset 0 */
	lseek(fd, 0, SEEK_END);
	memset(out, 'Z', sizeof out);
	st = mf_mark_message_id(fd, out, outsz, &err);
	if (!is_int(st, MF_OK, name))
		tap_diag("%s", err.msg);
	is_str(out, want, name);
	close(fd);
}

static void test_message_id(void)
{
	char *big;
	size_t n;
	const char *p = pathf("%s/big", dir);
	char out[256];
	struct mf_err err = { 0 };
	size_t i;
	int fd;

	msgid_is("From: a@b\nMessage-ID: <1@x.org>\nSubject: s\n\nbody\n", 256, "<1@x.org>",
		 "plain");
	msgid_is("Message-ID:<1@x.org>\n\nbody\n", 256, "<1@x.org>", "first line, no blank");
	msgid_is("From: a@b\nMessage-ID:\n <2@x.org>\nSubject: s\n\n", 256, "<2@x.org>",
		 "folded: value on the next line");
	msgid_is("Message-ID: <3@x\n\t.org>  \nSubject: s\n\n", 256, "<3@x\t.org>",
		 "folded inside: the blank kept, the newline removed");
	msgid_is("Message-ID: <4@x.org>\n \n\t\nTo: t\n\n", 256, "<4@x.org>",
		 "blank continuation lines");
	msgid_is("message-id: <5@x.org>\n\n", 256, "<5@x.org>", "lowercase name");
	msgid_is("MESSAGE-ID: <6@x.org>\n\n", 256, "<6@x.org>", "uppercase name");
	msgid_is("Message-Id : <7@x.org>\n\n", 256, "<7@x.org>", "blank before the colon");
	msgid_is("From: a@b\nSubject: s\n\nbody\n", 256, "", "absent -> \"\"");
	msgid_is("From: a@b\nSubject: s\n\nMessage-ID: <body@x.org>\n", 256, "",
		 "a Message-ID line in the body is not taken");
	msgid_is("From: a@b\r\n\r\nMessage-ID: <body@x.org>\r\n", 256, "",
		 "the body is not taken (CRLF)");
	msgid_is("\nMessage-ID: <body@x.org>\n", 256, "", "empty first line: no headers");
	msgid_is("From: a@b\r\nMessage-ID: <8@x.org>\r\nSubject: s\r\n\r\nbody\r\n", 256,
		 "<8@x.org>", "CRLF headers");
	msgid_is("Message-ID:\r\n <9@x\r\n .org>\r\n\r\n", 256, "<9@x .org>", "CRLF folded");
	msgid_is("Message-ID: <a@x.org>\nMessage-ID: <b@x.org>\n\n", 256, "<a@x.org>",
		 "the first of two is taken");
	msgid_is("Message-IDs: <c@x.org>\nX-Message-ID: <d@x.org>\n\n", 256, "",
		 "names that only start or end with Message-ID are not it");
	msgid_is(" <e@x.org>\nMessage-ID: <f@x.org>\n\n", 256, "<f@x.org>",
		 "a stray continuation first is ignored");
	msgid_is("Subject: s\nMessage-ID: <g@x.org>", 256, "<g@x.org>",
		 "headers only, no final newline");
	msgid_is("Message-ID: <0123456789@x.org>\n\n", 8, "<012345", "cut at outsz - 1");
	msgid_is("", 256, "", "empty file");

	/* a long header block is read; past 1 MiB of headers nothing is */
	n = 1100 * 1024;
	big = malloc(n + 64);
	for (i = 0; i + 100 <= n; i += 100)
		snprintf(big + i, 101, "X-Filler: %089d\n", 0);
	snprintf(big + i, 64, "Message-ID: <late@x.org>\n\nbody\n");
	t_write_str(p, big);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	is_int(mf_mark_message_id(fd, out, sizeof out, &err), MF_OK, "1.1 MiB of headers");
	is_str(out, "", "a Message-ID past 1 MiB of headers is not read");
	close(fd);
	snprintf(big + 4000, 101, "Message-ID: <early@x.org>%74s\n", "");
	t_write_str(p, big);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	mf_mark_message_id(fd, out, sizeof out, &err);
	is_str(out, "<early@x.org>", "one near the start of a 1.1 MiB block is found");
	close(fd);
	snprintf(big + 4000, 101, "X-Filler: %089d\n", 0);
	snprintf(big + 1048576 - 40, 64, "Message-ID: <cut@x.org>\n");
	t_write_str(p, big);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	mf_mark_message_id(fd, out, sizeof out, &err);
	is_str(out, "", "a line cut by the 1 MiB cap is ignored");
	close(fd);
	free(big);

	fd = open(pathf("%s/kdir", dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok(mf_mark_message_id(fd, out, sizeof out, &err) == MF_EIO, "read error is MF_EIO: %s",
	   err.msg);
	close(fd);
	ok(mf_mark_message_id(-1, out, sizeof out, &err) != MF_OK, "bad fd fails");
}

int main(void)
{
	struct mf_mark_key key = { 0 }, other = { 0 };
	struct mf_err err = { 0 };

	umask(077);
	snprintf(dir, sizeof dir, "%s", tap_tmpdir());
	tap_plan(171);
	test_key_files();
	if (mf_mark_key_load(keyfile("key", SECRET, strlen(SECRET), 0600), &key, &err) != MF_OK ||
	    mf_mark_key_load(keyfile("other", SECRET "x", strlen(SECRET) + 1, 0600), &other,
			     &err) != MF_OK)
		tap_diag("key: %s", err.msg);
	test_known_answer(&key);
	test_verify(&key, &other);
	test_malformed(&key);
	test_message_id();
	mf_mark_key_free(&key);
	mf_mark_key_free(&other);
	return tap_done();
}
