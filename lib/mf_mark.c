/* SPDX-License-Identifier: MIT */
/* The "already scanned" mark: HMAC-SHA256 over a message's identity (mf_mark.h). */
#include "mf_mark.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mf_buf.h"
#include "mf_file.h"

#define KEY_MIN 16
#define KEY_MAX 4096
#define FUTURE_MAX 300                 /* seconds a mark may be ahead of now */
#define HDR_MAX (1024 * 1024)          /* header bytes mf_mark_message_id reads */
#define HDR_BLOCK 4096
#define T_DIGITS_MAX 18                /* keeps t and now - t inside long long */
#define HMAC_LEN 32

/* ---- the key ---- */

enum mf_status mf_mark_key_load(const char *path, struct mf_mark_key *key,
				struct mf_err *err)
{
	struct mf_secret sec;
	enum mf_status st;

	key->data = NULL;
	key->len = 0;
	if ((st = mf_secret_load(path, KEY_MIN, KEY_MAX, &sec, err)))
		return st;
	key->data = sec.data;
	key->len = sec.len;
	return MF_OK;
}

void mf_mark_key_free(struct mf_mark_key *key)
{
	struct mf_secret sec;

	if (!key)
		return;
	sec.data = key->data;
	sec.len = key->len;
	mf_secret_free(&sec);
	key->data = NULL;
	key->len = 0;
}

/* ---- the HMAC ---- */

/* HMAC-SHA256 over "mf1|" tstr "|" len(sender) ":" sender "|" msgid: the
 * length keeps a '|' in the sender (legal in a local part) from shifting
 * the fields. */
static enum mf_status mark_hmac(const struct mf_mark_key *key, const char *tstr,
				const char *sender, const char *msgid,
				unsigned char md[HMAC_LEN], struct mf_err *err)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end()
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t mdlen = 0;
	char slen[32];
	int ok;

	snprintf(slen, sizeof slen, "|%zu:", strlen(sender));
	ok = ctx && EVP_MAC_init(ctx, key->data, key->len, params) &&
	     EVP_MAC_update(ctx, (const unsigned char *)"mf1|", 4) &&
	     EVP_MAC_update(ctx, (const unsigned char *)tstr, strlen(tstr)) &&
	     EVP_MAC_update(ctx, (const unsigned char *)slen, strlen(slen)) &&
	     EVP_MAC_update(ctx, (const unsigned char *)sender, strlen(sender)) &&
	     EVP_MAC_update(ctx, (const unsigned char *)"|", 1) &&
	     EVP_MAC_update(ctx, (const unsigned char *)msgid, strlen(msgid)) &&
	     EVP_MAC_final(ctx, md, &mdlen, HMAC_LEN) && mdlen == HMAC_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (!ok)
		return mf_err_set(err, MF_EINTERNAL, "HMAC-SHA256 failed (OpenSSL)");
	return MF_OK;
}

static enum mf_status key_check(const struct mf_mark_key *key, struct mf_err *err)
{
	if (!key || !key->data || key->len == 0)
		return mf_err_set(err, MF_EINTERNAL, "mark: no secret loaded");
	return MF_OK;
}

enum mf_status mf_mark_make(const struct mf_mark_key *key, time_t t,
			    const char *sender, const char *msgid,
			    char out[MF_MARK_MAX], struct mf_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[HMAC_LEN];
	char tstr[32], h[2 * HMAC_LEN + 1];
	enum mf_status st;
	size_t i;
	int n;

	out[0] = '\0';
	if ((st = key_check(key, err)) != MF_OK)
		return st;
	if (t < 0)
		return mf_err_set(err, MF_EINTERNAL, "mark: negative time %lld", (long long)t);
	snprintf(tstr, sizeof tstr, "%lld", (long long)t);
	st = mark_hmac(key, tstr, sender ? sender : "", msgid ? msgid : "", md, err);
	if (st != MF_OK)
		return st;
	for (i = 0; i < HMAC_LEN; i++) {
		h[2 * i] = hex[md[i] >> 4];
		h[2 * i + 1] = hex[md[i] & 15];
	}
	h[2 * HMAC_LEN] = '\0';
	n = snprintf(out, MF_MARK_MAX, "mf1; t=%s; h=%s", tstr, h);
	if (n < 0 || n >= MF_MARK_MAX)
		return mf_err_set(err, MF_EINTERNAL, "mark too long");
	return MF_OK;
}

/* ---- parsing a mark ---- */

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* p at "WORD"; advances past it or returns NULL. */
static const char *expect(const char *p, const char *word)
{
	size_t n = strlen(word);

	return strncmp(p, word, n) ? NULL : p + n;
}

/* Blanks, ';', blanks. */
static const char *expect_semi(const char *p)
{
	p = skip_blanks(p);
	if (*p != ';')
		return NULL;
	return skip_blanks(p + 1);
}

/* Canonical decimal: no sign, no leading zero (but "0"), at most T_DIGITS_MAX. */
static const char *parse_t(const char *p, char tstr[T_DIGITS_MAX + 1], long long *t)
{
	size_t n = 0;

	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (n == 0 || n > T_DIGITS_MAX || (n > 1 && p[0] == '0'))
		return NULL;
	memcpy(tstr, p, n);
	tstr[n] = '\0';
	*t = strtoll(tstr, NULL, 10);
	return p + n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase too: make writes lowercase only */
}

static const char *parse_h(const char *p, unsigned char md[HMAC_LEN])
{
	int hi, lo;
	size_t i;

	for (i = 0; i < HMAC_LEN; i++) {
		hi = hexval(p[2 * i]);
		lo = hi < 0 ? -1 : hexval(p[2 * i + 1]);
		if (lo < 0)
			return NULL;
		md[i] = (unsigned char)(hi << 4 | lo);
	}
	return p + 2 * HMAC_LEN;
}

/* "mf1; t=DIGITS; h=64hex", blanks allowed around ';' and at both ends. */
static int parse_mark(const char *value, char tstr[T_DIGITS_MAX + 1], long long *t,
		      unsigned char md[HMAC_LEN])
{
	const char *p = skip_blanks(value);

	if (!(p = expect(p, "mf1")) || !(p = expect_semi(p)) || !(p = expect(p, "t=")) ||
	    !(p = parse_t(p, tstr, t)) || !(p = expect_semi(p)) || !(p = expect(p, "h=")) ||
	    !(p = parse_h(p, md)))
		return -1;
	return *skip_blanks(p) == '\0' ? 0 : -1;
}

enum mf_status mf_mark_verify(const struct mf_mark_key *key, const char *value,
			      const char *sender, const char *msgid, time_t now,
			      long max_age, struct mf_err *err)
{
	unsigned char got[HMAC_LEN], want[HMAC_LEN];
	char tstr[T_DIGITS_MAX + 1];
	long long t, age;
	enum mf_status st;

	if ((st = key_check(key, err)) != MF_OK)
		return st;
	if (!value || parse_mark(value, tstr, &t, got) < 0)
		return mf_err_set(err, MF_EPOLICY, "malformed mark");
	st = mark_hmac(key, tstr, sender ? sender : "", msgid ? msgid : "", want, err);
	if (st != MF_OK)
		return st;
	if (CRYPTO_memcmp(got, want, HMAC_LEN) != 0)
		return mf_err_set(err, MF_EPOLICY, "mark does not match this message");
	age = (long long)now - t;
	if (age > (max_age > 0 ? max_age : 0))
		return mf_err_set(err, MF_EPOLICY, "mark is older than %ld seconds (%lld)",
				  max_age, age);
	if (-age > FUTURE_MAX)
		return mf_err_set(err, MF_EPOLICY, "mark is dated %lld seconds in the future",
				  -age);
	return MF_OK;
}

/* ---- the Message-ID ---- */

/* Offset just past the first empty line of p[0..len) at or after from, or 0. */
static size_t header_end(const char *p, size_t len, size_t from)
{
	size_t i;

	for (i = from; i < len; i++) {
		if (i > 0 && p[i - 1] != '\n')
			continue;
		if (p[i] == '\n')
			return i + 1;
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			return i + 2;
	}
	return 0;
}

/*
 * The header block with its empty line, read in blocks from offset 0, at
 * most HDR_MAX bytes; *cut is set when the cap stopped it mid-header.
 */
static enum mf_status read_headers(int fd, struct mf_buf *b, int *cut, struct mf_err *err)
{
	size_t end, want;
	ssize_t r;

	*cut = 0;
	while (b->len < HDR_MAX) {
		want = HDR_MAX - b->len < HDR_BLOCK ? HDR_MAX - b->len : HDR_BLOCK;
		if (mf_buf_grow(b, want) < 0)
			return mf_err_set(err, MF_ENOMEM, "out of memory");
		r = pread(fd, b->data + b->len, want, (off_t)b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mf_err_errno(err, errno, "reading message headers");
		if (r == 0)
			return MF_OK;
		end = header_end(b->data, b->len + (size_t)r, b->len > 0 ? b->len - 1 : 0);
		b->len += (size_t)r;
		b->data[b->len] = '\0';
		if (end) {
			b->len = end;
			b->data[end] = '\0';
			return MF_OK;
		}
	}
	*cut = 1;
	return MF_OK;
}

/* Whether line (length n) is the start of a Message-ID header; *val after ':'. */
static int is_msgid(const char *line, size_t n, size_t *val)
{
	static const char name[] = "message-id";
	size_t k = sizeof name - 1, i = k;

	if (n < k || strncasecmp(line, name, k))
		return 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= n || line[i] != ':')
		return 0;
	*val = i + 1;
	return 1;
}

/* Append n bytes of s to out[*o...], keeping room for the NUL; blanks
 * that would lead the value are dropped so the cap counts the trimmed value. */
static void append(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	for (; n > 0 && *o + 1 < outsz; s++, n--)
		if (*o > 0 || (*s != ' ' && *s != '\t'))
			out[(*o)++] = *s;
}

static void trim_end(char *out, size_t o)
{
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
}

/*
 * Unfolding (RFC 5322 2.2.3) removes each CRLF that is followed by a blank
 * and keeps the blank; the first Message-ID header counts.  A line cut by
 * the 1 MiB cap (no newline, not at end of file) is ignored.
 */
static void find_msgid(const char *p, size_t len, int complete, char *out, size_t outsz)
{
	size_t pos = 0, n, nl, val, o = 0;
	int in = 0, done = 0;

	while (pos < len && !done) {
		const char *line = p + pos, *e = memchr(line, '\n', len - pos);

		if (!e && !complete)
			break;
		nl = e ? (size_t)(e - line) : len - pos;
		pos += nl + (e ? 1 : 0);
		n = nl > 0 && line[nl - 1] == '\r' ? nl - 1 : nl;
		if (n == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t') {
			if (in)
				append(out, outsz, &o, line, n);
		} else if (in) {
			done = 1;
		} else if (is_msgid(line, n, &val)) {
			in = 1;
			append(out, outsz, &o, line + val, n - val);
		}
	}
	trim_end(out, o);
}

enum mf_status mf_mark_message_id(int fd, char *out, size_t outsz,
				  struct mf_err *err)
{
	struct mf_buf b = { 0 };
	enum mf_status st;
	int cut;

	if (!out || outsz == 0)
		return mf_err_set(err, MF_EINTERNAL, "mark: no room for the Message-ID");
	out[0] = '\0';
	st = read_headers(fd, &b, &cut, err);
	if (st == MF_OK && b.len)
		find_msgid(b.data, b.len, !cut, out, outsz);
	mf_buf_free(&b);
	return st;
}
