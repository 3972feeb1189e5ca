/* SPDX-License-Identifier: MIT */
/* Envelope address checks (RFC 5321 Mailbox syntax and limits). */
#include "mf_addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1; /* UTF-8, RFC 6531 */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static const char *check_dot_string(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return "empty local part";
	if (s[0] == '.' || s[n - 1] == '.')
		return "local part begins or ends with a dot";
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return "two dots in a row in the local part";
		} else if (!is_atext((unsigned char)s[i])) {
			return "character not allowed in the local part";
		}
	}
	return NULL;
}

static const char *check_quoted(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || s[n - 1] != '"')
		return "unterminated quoted local part";
	for (i = 1; i < n - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			if (++i >= n - 1)
				return "backslash at the end of a quoted local part";
			c = (unsigned char)s[i];
			if (c < 32 || c == 127)
				return "character not allowed in a quoted local part";
		} else if (c == '"' || (c < 32) || c == 127) {
			return "character not allowed in a quoted local part";
		}
	}
	return NULL;
}

static const char *check_literal(const char *s, size_t n)
{
	char buf[64];
	unsigned char bin[16];

	if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof buf)
		return "bad address literal";
	memcpy(buf, s + 1, n - 2);
	buf[n - 2] = '\0';
	if (!strncasecmp(buf, "IPv6:", 5))
		return inet_pton(AF_INET6, buf + 5, bin) == 1 ? NULL
							      : "bad IPv6 address literal";
	return inet_pton(AF_INET, buf, bin) == 1 ? NULL : "bad IPv4 address literal";
}

static const char *check_domain(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0)
		return "empty domain";
	if (n > MF_ADDR_DOMAIN_MAX)
		return "domain longer than 255 characters";
	if (s[0] == '[')
		return check_literal(s, n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return "empty label in the domain";
			if (s[i - 1] == '-')
				return "domain label ends with a hyphen";
			label = 0;
			continue;
		}
		if (!(c >= 0x80 || c == '-' || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return "character not allowed in the domain";
		if (c == '-' && label == 0)
			return "domain label begins with a hyphen";
		if (++label > 63)
			return "domain label longer than 63 characters";
	}
	if (label == 0)
		return "domain ends with a dot";
	if (s[n - 1] == '-')
		return "domain label ends with a hyphen";
	return NULL;
}

static const char *check_mailbox(const char *s, size_t n)
{
	const char *at, *why;
	size_t local;

	at = NULL;
	if (n && s[0] == '"') {
		/* the closing quote is the last '"' before the last '@' */
		at = memrchr(s, '@', n);
		if (!at)
			return "missing @domain";
	} else {
		at = memchr(s, '@', n);
	}
	if (!at) {
		if (n == 10 && !strncasecmp(s, "postmaster", 10))
			return NULL;
		return "missing @domain";
	}
	local = (size_t)(at - s);
	if (local > MF_ADDR_LOCAL_MAX)
		return "local part longer than 64 characters";
	why = s[0] == '"' ? check_quoted(s, local) : check_dot_string(s, local);
	if (why)
		return why;
	return check_domain(at + 1, n - local - 1);
}

static void show(char *out, size_t outsz, const char *s, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n && j + 5 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 32 || c == 127)
			j += (size_t)snprintf(out + j, outsz - j, "\\x%02x", c);
		else
			out[j++] = (char)c;
	}
	if (i < n && j + 4 < outsz)
		j += (size_t)snprintf(out + j, outsz - j, "...");
	out[j] = '\0';
}

enum mf_status mf_addr_check(const char *in, size_t n, unsigned flags,
			     char *out, struct mf_err *err)
{
	const char *s = in, *why = NULL;
	char shown[100];
	size_t i, inlen = n;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if ((c < 32 && c != '\t') || c == 127) {
			why = c == '\r' || c == '\n' ? "CR or LF in address"
			    : c == 0 ? "NUL in address" : "control character in address";
			goto bad;
		}
	}
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (memchr(s, '\t', n)) {
		why = "control character in address";
		goto bad;
	}
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		s++, n -= 2;
	else if (n && (s[0] == '<' || s[n - 1] == '>'))
		why = "unbalanced angle brackets";
	if (!why && n == 0) {
		if (flags & MF_ADDR_ALLOW_NULL) {
			out[0] = '\0';
			return MF_OK;
		}
		why = "empty address";
	}
	if (!why && n > MF_ADDR_MAX)
		why = "address longer than 254 characters";
	if (!why)
		why = check_mailbox(s, n);
	if (!why) {
		memcpy(out, s, n);
		out[n] = '\0';
		return MF_OK;
	}
bad:
	show(shown, sizeof shown, in, inlen > 200 ? 200 : inlen);
	return mf_err_set(err, MF_EADDR, "bad address <%s>: %s", shown, why);
}
