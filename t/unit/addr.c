/* SPDX-License-Identifier: MIT */
/* Unit tests for envelope address checks (mf_addr_check). */
#include <stdio.h>
#include <string.h>

#include "mf_addr.h"
#include "tap.h"

static void good_n(const char *in, size_t n, unsigned flags, const char *want)
{
	char out[MF_ADDR_MAX + 1 + 16];
	struct mf_err err = { 0 };
	enum mf_status st;
	char name[160];

	memset(out, 'Z', sizeof out);
	st = mf_addr_check(in, n, flags, out, &err);
	snprintf(name, sizeof name, "good: '%.60s%s' -> '%.60s%s'", in,
		 strlen(in) > 60 ? "..." : "", want, strlen(want) > 60 ? "..." : "");
	if (!ok(st == MF_OK && !strcmp(out, want), "%s", name))
		tap_diag("status %d, out '%.*s', err '%s'", st,
			 st == MF_OK ? (int)strlen(out) : 0, out, err.msg);
}

static void good(const char *in, unsigned flags, const char *want)
{
	good_n(in, strlen(in), flags, want);
}

/* Refused with MF_EADDR, and the message names the reason. */
static void bad_n(const char *in, size_t n, unsigned flags, const char *reason,
		  const char *label)
{
	char out[MF_ADDR_MAX + 1 + 16];
	struct mf_err err = { 0 };
	enum mf_status st;

	st = mf_addr_check(in, n, flags, out, &err);
	if (!ok(st == MF_EADDR && err.status == MF_EADDR && strstr(err.msg, reason) &&
		!strpbrk(err.msg, "\r\n"),
		"bad (%s): MF_EADDR, message mentions '%s'", label, reason))
		tap_diag("status %d, msg '%s'", st, err.msg);
}

static void bad(const char *in, unsigned flags, const char *reason, const char *label)
{
	bad_n(in, strlen(in), flags, reason, label);
}

static void fill(char *p, char c, size_t n)
{
	memset(p, c, n);
	p[n] = '\0';
}

static void test_good(void)
{
	good("user@example.org", 0, "user@example.org");
	good("<user@example.org>", 0, "user@example.org");
	good("  user@example.org  ", 0, "user@example.org");
	good("  <user@example.org>  ", 0, "user@example.org");
	good("first.last+tag@sub.example.org", 0, "first.last+tag@sub.example.org");
	good("!#$%&'*+-/=?^_`{|}~@example.org", 0, "!#$%&'*+-/=?^_`{|}~@example.org");
	good("\"john doe\"@example.org", 0, "\"john doe\"@example.org");
	good("\"a@b\"@example.org", 0, "\"a@b\"@example.org");
	good("\"a\\\"b\"@example.org", 0, "\"a\\\"b\"@example.org");
	good("<\"x..y.\"@example.org>", 0, "\"x..y.\"@example.org");
	good("用户@例子.广告", 0, "用户@例子.广告");
	good("δοκιμή@παράδειγμα.δοκιμή", 0, "δοκιμή@παράδειγμα.δοκιμή");
	good("user@[192.0.2.1]", 0, "user@[192.0.2.1]");
	good("user@[IPv6:2001:db8::1]", 0, "user@[IPv6:2001:db8::1]");
	good("user@[ipv6:::1]", 0, "user@[ipv6:::1]");
	good("postmaster", 0, "postmaster");
	good("<Postmaster>", 0, "Postmaster");
	good("user@localhost", 0, "user@localhost");
	good("user@a-b.example-1.org", 0, "user@a-b.example-1.org");
	good("<>", MF_ADDR_ALLOW_NULL, "");
	good("", MF_ADDR_ALLOW_NULL, "");
	good("  <>  ", MF_ADDR_ALLOW_NULL, "");
	good("user@example.org", MF_ADDR_ALLOW_NULL, "user@example.org");
	/* the explicit length counts, not the NUL */
	good_n("user@example.orgJUNK", 16, 0, "user@example.org");
}

static void test_lengths(void)
{
	char local[80], label[80], addr[400], want[300];
	char d63[64];

	/* local part: 64 accepted, 65 refused */
	fill(local, 'l', 64);
	snprintf(addr, sizeof addr, "%s@example.org", local);
	good(addr, 0, addr);
	fill(local, 'l', 65);
	snprintf(addr, sizeof addr, "%s@example.org", local);
	bad(addr, 0, "local part longer than 64", "local part of 65 characters");

	/* domain label: 63 accepted, 64 refused */
	fill(label, 'd', 63);
	snprintf(addr, sizeof addr, "u@%s.org", label);
	good(addr, 0, addr);
	fill(label, 'd', 64);
	snprintf(addr, sizeof addr, "u@%s.org", label);
	bad(addr, 0, "label longer than 63", "domain label of 64 characters");
	snprintf(addr, sizeof addr, "u@example.%s", label);
	bad(addr, 0, "label longer than 63", "last domain label of 64 characters");

	/* total: 254 accepted (64 + '@' + 189), 255 refused */
	fill(local, 'l', 64);
	fill(d63, 'a', 63);
	snprintf(addr, sizeof addr, "%s@%s.%s.%.61s", local, d63, d63, d63);
	is_int((long long)strlen(addr), 254, "constructed address is 254 characters");
	good(addr, 0, addr);
	snprintf(want, sizeof want, "%s", addr);
	snprintf(addr, sizeof addr, "<%s>", want);
	good(addr, 0, want); /* 256 with the brackets */
	snprintf(addr, sizeof addr, "%s@%s.%s.%.62s", local, d63, d63, d63);
	is_int((long long)strlen(addr), 255, "constructed address is 255 characters");
	bad(addr, 0, "longer than 254", "address of 255 characters");
	snprintf(addr, sizeof addr, "<%s@%s.%s.%.62s>", local, d63, d63, d63);
	bad(addr, 0, "longer than 254", "bracketed address of 255 characters");
	/* a very long input: refused, and the message stays bounded */
	{
		char huge[3000];
		struct mf_err err;
		char out[MF_ADDR_MAX + 1];
		fill(huge, 'h', sizeof huge - 1);
		huge[100] = '@';
		ok(mf_addr_check(huge, strlen(huge), 0, out, &err) == MF_EADDR &&
		   strlen(err.msg) < MF_ERR_MAX, "a 3000-byte address is refused with a bounded message");
	}
}

static void test_controls(void)
{
	struct mf_err err;
	char out[MF_ADDR_MAX + 1];

	bad("user@example.org\r", 0, "CR or LF", "trailing CR");
	bad("user@example.org\n", 0, "CR or LF", "trailing LF");
	bad("user\r\n@example.org", 0, "CR or LF", "CRLF inside");
	bad("<user@example.org>\r\nRCPT TO:<x@y>", 0, "CR or LF", "SMTP command injection");
	bad_n("user\0@example.org", 17, 0, "NUL", "NUL in the middle (explicit length)");
	bad_n("user@example.org\0", 17, 0, "NUL", "trailing NUL within the length");
	bad("us\ter@example.org", 0, "control character", "TAB inside");
	bad("us\033er@example.org", 0, "control character", "ESC");
	bad("user@exam\x7fple.org", 0, "control character", "DEL");
	bad("user@example.org\x01", 0, "control character", "SOH");

	/* the offending byte is shown escaped, never raw */
	mf_addr_check("a\r\nb@c", 6, 0, out, &err);
	ok(strstr(err.msg, "\\x0d\\x0a") != NULL, "CR LF shown as \\x0d\\x0a in the message");
	mf_addr_check("a\0b@c", 5, 0, out, &err);
	ok(strstr(err.msg, "a\\x00b@c") != NULL, "NUL shown as \\x00, rest of the address shown");
	is_int(err.status, MF_EADDR, "err.status is MF_EADDR");
	ok(mf_addr_check("x\n", 2, 0, out, NULL) == MF_EADDR, "err may be NULL");
}

static void test_syntax(void)
{
	bad("userexample.org", 0, "missing @", "no @");
	bad("postmaster2", 0, "missing @", "unqualified name other than postmaster");
	bad("@example.org", 0, "empty local part", "empty local part");
	bad(".user@example.org", 0, "dot", "leading dot");
	bad("user.@example.org", 0, "dot", "trailing dot");
	bad("us..er@example.org", 0, "two dots", "double dot");
	bad("us er@example.org", 0, "local part", "blank in the local part");
	bad("us\"er@example.org", 0, "local part", "quote inside an atom");
	bad("us(er)@example.org", 0, "local part", "parenthesis");
	bad("\"unterminated@example.org", 0, "quoted", "unterminated quote");
	bad("\"a\"b\"@example.org", 0, "quoted", "bare quote inside quotes");
	bad("user@", 0, "empty domain", "empty domain");
	bad("user@.example.org", 0, "empty label", "leading dot in the domain");
	bad("user@example..org", 0, "empty label", "double dot in the domain");
	bad("user@example.org.", 0, "ends with a dot", "trailing dot in the domain");
	bad("user@-example.org", 0, "begins with a hyphen", "label starting with a hyphen");
	bad("user@example-.org", 0, "ends with a hyphen", "label ending with a hyphen");
	bad("user@example.org-", 0, "ends with a hyphen", "last label ending with a hyphen");
	bad("user@example.-org", 0, "begins with a hyphen", "last label starting with a hyphen");
	bad("user@exa_mple.org", 0, "domain", "underscore in the domain");
	bad("user@exa mple.org", 0, "domain", "blank in the domain");
	bad("user@example.org@other.org", 0, "domain", "two @");
	bad("<user@example.org", 0, "unbalanced", "missing closing bracket");
	bad("user@example.org>", 0, "unbalanced", "missing opening bracket");
	bad("<<user@example.org>>", 0, "local part", "doubled brackets");
	bad("user@[192.0.2.1", 0, "literal", "literal without ']'");
	bad("user@[192.0.2]", 0, "IPv4", "IPv4 literal with 3 parts");
	bad("user@[192.0.2.256]", 0, "IPv4", "IPv4 literal out of range");
	bad("user@[IPv6:2001:db8::g]", 0, "IPv6", "bad IPv6 literal");
	bad("user@[2001:db8::1]", 0, "literal", "IPv6 literal without the tag");
	bad("user@[]", 0, "literal", "empty literal");
	bad("", 0, "empty", "empty address without ALLOW_NULL");
	bad("<>", 0, "empty", "null sender without ALLOW_NULL");
	bad("   ", 0, "empty", "blanks only");
}

int main(void)
{
	tap_plan(84);
	test_good();
	test_lengths();
	test_controls();
	test_syntax();
	return tap_done();
}
