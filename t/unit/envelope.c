/* SPDX-License-Identifier: MIT */
/* Unit tests for the envelope text format (mf_envelope). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf_envelope.h"
#include "tap.h"

static int format(const struct mf_envelope *env, struct mf_buf *b)
{
	struct mf_err err;

	mf_buf_reset(b);
	if (mf_envelope_format(env, b, &err) != MF_OK) {
		tap_diag("format: %s", err.msg);
		return -1;
	}
	return 0;
}

static enum mf_status parse(const char *text, size_t len, struct mf_envelope *env,
			    struct mf_err *err)
{
	mf_envelope_init(env);
	return mf_envelope_parse(text, len, env, err);
}

/* Show a multi-line text as TAP diagnostics. */
static void diag_text(const char *s)
{
	const char *nl;

	while (*s) {
		nl = strchr(s, '\n');
		tap_diag("| %.*s", nl ? (int)(nl - s) : (int)strlen(s), s);
		s = nl ? nl + 1 : s + strlen(s);
	}
}

static int streq(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

static void build_full(struct mf_envelope *env)
{
	mf_envelope_init(env);
	mf_envelope_set(&env->id, "1795431256.M123456P4242Q1.mx1");
	mf_envelope_set(&env->sender, "sender@example.org");
	env->arrival = 1795431256;
	env->size = 123456789012ULL;
	mf_envelope_set(&env->client_addr, "2001:db8::25");
	mf_envelope_set(&env->client_helo, "client.example.net");
	mf_envelope_set(&env->receiver_id, "relay2");

	mf_envelope_add_rcpt(env, "pending@example.com");

	mf_envelope_add_rcpt(env, "deferred@example.com");
	env->rcpts[1].state = MF_RCPT_DEFERRED;
	env->rcpts[1].attempts = 3;
	env->rcpts[1].last_attempt = 1795431300;
	env->rcpts[1].next_attempt = 1795435000;
	mf_envelope_set(&env->rcpts[1].reply, "451 4.7.1 greylisted, try later");
	mf_envelope_set(&env->rcpts[1].route, "mx:example.com");

	mf_envelope_add_rcpt(env, "delivered@example.com");
	env->rcpts[2].state = MF_RCPT_DELIVERED;
	env->rcpts[2].attempts = 1;
	env->rcpts[2].last_attempt = 1795431301;
	mf_envelope_set(&env->rcpts[2].reply, "250 2.0.0 Ok: queued as ABC");
	mf_envelope_set(&env->rcpts[2].route, "inet:25@relay.example.com");

	mf_envelope_add_rcpt(env, "failed@example.com");
	env->rcpts[3].state = MF_RCPT_FAILED;
	env->rcpts[3].attempts = 1000000;
	env->rcpts[3].last_attempt = 1795431302;
	mf_envelope_set(&env->rcpts[3].reply, "550 5.1.1 <failed@example.com>: no such user");
}

static int same_rcpt(const struct mf_rcpt *a, const struct mf_rcpt *b)
{
	return streq(a->addr, b->addr) && a->state == b->state &&
	       a->attempts == b->attempts && a->last_attempt == b->last_attempt &&
	       a->next_attempt == b->next_attempt && streq(a->reply, b->reply) &&
	       streq(a->route, b->route) && a->extra.len == b->extra.len &&
	       (!a->extra.len || !memcmp(a->extra.data, b->extra.data, a->extra.len));
}

static void test_round_trip(void)
{
	struct mf_envelope env, back;
	struct mf_buf b1 = { 0 }, b2 = { 0 };
	struct mf_err err;
	enum mf_status st;
	size_t i;
	int same = 1;

	build_full(&env);
	ok(format(&env, &b1) == 0, "format a full envelope");
	ok(strstr(b1.data, "Version: 2\n") == b1.data, "the file starts with Version: 2");
	ok(b1.len > 7 && !strcmp(b1.data + b1.len - 7, "End: 4\n"),
	   "the file ends with End: and the number of recipients");
	ok(strstr(b1.data, "\nSender: <sender@example.org>\n") != NULL, "sender in angle brackets");
	ok(strstr(b1.data, "\nArrival: 2026-11-23T10:54:16Z\n") != NULL, "arrival as RFC 3339 UTC");
	ok(strstr(b1.data, "\nSize: 123456789012\n") != NULL, "size in bytes");
	ok(strstr(b1.data, "\nRecipient: <deferred@example.com>\nState: deferred\nAttempts: 3\n") != NULL,
	   "recipient block: Recipient, State, Attempts");
	ok(strstr(b1.data, "\nNext-Attempt: 2026-11-23T11:56:40Z\n") != NULL, "next attempt timestamp");

	st = parse(b1.data, b1.len, &back, &err);
	if (!is_int(st, MF_OK, "parse the formatted envelope"))
		tap_diag("%s", err.msg);
	is_str(back.id, env.id, "id survives");
	is_str(back.sender, "sender@example.org", "sender survives without brackets");
	is_int(back.arrival, env.arrival, "arrival survives");
	ok(back.size == env.size, "size survives");
	is_str(back.client_addr, "2001:db8::25", "client address survives");
	is_str(back.client_helo, "client.example.net", "client HELO survives");
	is_str(back.receiver_id, "relay2", "receiver id survives");
	is_int((long long)back.nrcpts, 4, "four recipients survive");
	for (i = 0; i < env.nrcpts && i < back.nrcpts; i++)
		if (!same_rcpt(&env.rcpts[i], &back.rcpts[i])) {
			same = 0;
			tap_diag("recipient %zu differs", i);
		}
	ok(same && back.nrcpts == env.nrcpts, "every recipient field survives, in order");
	is_int(back.rcpts[0].state, MF_RCPT_PENDING, "state pending");
	is_int(back.rcpts[1].state, MF_RCPT_DEFERRED, "state deferred");
	is_int(back.rcpts[2].state, MF_RCPT_DELIVERED, "state delivered");
	is_int(back.rcpts[3].state, MF_RCPT_FAILED, "state failed");
	ok(back.rcpts[0].reply == NULL && back.rcpts[0].route == NULL &&
	   back.rcpts[0].last_attempt == 0 && back.rcpts[0].next_attempt == 0,
	   "absent optional recipient fields stay absent");
	ok(format(&back, &b2) == 0 && b1.len == b2.len && !memcmp(b1.data, b2.data, b1.len),
	   "format(parse(format(env))) is byte-identical");
	mf_envelope_free(&back);
	mf_envelope_free(&env);
	ok(env.id == NULL && env.nrcpts == 0 && env.rcpts == NULL, "free leaves an empty envelope");

	/* minimal envelope: NULL optional fields, one recipient */
	mf_envelope_init(&env);
	mf_envelope_set(&env.id, "1795431256.M1P2Q1.x1");
	mf_envelope_add_rcpt(&env, "r@example.org");
	ok(format(&env, &b1) == 0 && strstr(b1.data, "Sender: <>\n") &&
	   !strstr(b1.data, "Client-") && !strstr(b1.data, "Last-"),
	   "a NULL sender is written as <>, absent fields are left out");
	st = parse(b1.data, b1.len, &back, &err);
	ok(st == MF_OK && streq(back.sender, "") && back.nrcpts == 1 && !back.client_addr,
	   "null sender parses as \"\"");
	mf_envelope_free(&back);
	mf_envelope_free(&env);
	mf_buf_free(&b1);
	mf_buf_free(&b2);
}

static void test_unknown_keys(void)
{
	static const char text[] =
		"Version: 2\n"
		"Id: 1795431256.M1P2Q3.abc\n"
		"Arrival: 2026-11-23T10:54:16Z\n"
		"Sender: <s@example.org>\n"
		"Size: 0\n"
		"X-Future-A: first entry key\n"
		"X-Future-B: second: with colon\n"
		"Recipient: <r1@example.org>\n"
		"State: deferred\n"
		"Attempts: 2\n"
		"X-Rcpt-One: r1 value\n"
		"X-Rcpt-Two: r1 second\n"
		"Recipient: <r2@example.org>\n"
		"State: pending\n"
		"Attempts: 0\n"
		"X-Rcpt-Three: r2 value\n"
		"End: 2\n";
	struct mf_envelope env, back;
	struct mf_buf b = { 0 };
	struct mf_err err;

	if (!is_int(parse(text, strlen(text), &env, &err), MF_OK, "parse with unknown keys"))
		tap_diag("%s", err.msg);
	is_str(env.extra.data, "X-Future-A: first entry key\nX-Future-B: second: with colon\n",
	       "unknown entry keys are kept, in order");
	is_str(env.nrcpts >= 1 ? env.rcpts[0].extra.data : NULL,
	       "X-Rcpt-One: r1 value\nX-Rcpt-Two: r1 second\n",
	       "unknown keys of recipient 1 stay with it, in order");
	is_str(env.nrcpts >= 2 ? env.rcpts[1].extra.data : NULL, "X-Rcpt-Three: r2 value\n",
	       "unknown keys of recipient 2 stay with it");
	ok(format(&env, &b) == 0 && b.len == strlen(text) && !memcmp(b.data, text, b.len),
	   "written back byte for byte, unknown keys in their places");
	if (!is_int(parse(b.data, b.len, &back, &err), MF_OK, "parse the written text"))
		tap_diag("%s", err.msg);
	mf_envelope_free(&back);
	mf_envelope_free(&env);
	mf_buf_free(&b);
}

static void test_flatten(void)
{
	struct mf_envelope env, back;
	struct mf_buf b = { 0 };
	struct mf_err err;

	mf_envelope_init(&env);
	mf_envelope_set(&env.id, "1795431256.M1P2Q1.x1");
	mf_envelope_set(&env.sender, "s@example.org");
	mf_envelope_set(&env.client_helo, "evil\r\nRecipient: <x@y>");
	mf_envelope_add_rcpt(&env, "r@example.org");
	mf_envelope_set(&env.rcpts[0].reply, "451-first line\r\n451 second line\nState: delivered");
	mf_envelope_set(&env.rcpts[0].route, "mx:\rexample.org");
	ok(format(&env, &b) == 0, "format with CR/LF in free text");
	ok(strstr(b.data, "\nLast-Reply: 451-first line  451 second line State: delivered\n") != NULL,
	   "CR/LF in a reply become spaces, on one line");
	ok(strstr(b.data, "\nClient-Helo: evil  Recipient: <x@y>\n") != NULL,
	   "CR/LF in the HELO become spaces");
	ok(!strchr(b.data, '\r'), "no CR anywhere in the file");
	ok(parse(b.data, b.len, &back, &err) == MF_OK && back.nrcpts == 1 &&
	   back.rcpts[0].state == MF_RCPT_PENDING &&
	   streq(back.rcpts[0].reply, "451-first line  451 second line State: delivered"),
	   "a flattened reply cannot inject a key");
	mf_envelope_free(&back);
	mf_envelope_free(&env);

	/* Addresses are checked at intake, but the file must still hold one value
	 * per line: an address with LF must not inject a key either. */
	mf_envelope_init(&env);
	mf_envelope_set(&env.id, "1795431256.M1P2Q1.x1");
	mf_envelope_set(&env.sender, "s@example.org\nX-Injected: 1");
	mf_envelope_add_rcpt(&env, "r@example.org>\nState: delivered\nX: <");
	if (mf_envelope_format(&env, (mf_buf_reset(&b), &b), &err) != MF_OK) {
		ok(1, "an address with LF is refused by the formatter");
	} else {
		enum mf_status st = parse(b.data, b.len, &back, &err);
		if (!ok(st != MF_OK || (back.nrcpts == 1 &&
					back.rcpts[0].state == MF_RCPT_PENDING &&
					back.extra.len == 0),
			"an address with LF cannot inject keys into the envelope file"))
			diag_text(b.data);
		mf_envelope_free(&back);
	}
	mf_envelope_free(&env);
	mf_buf_free(&b);
}

static void bad(const char *label, const char *text, size_t len, unsigned line)
{
	struct mf_envelope env;
	struct mf_err err = { 0 };
	enum mf_status st;
	char where[40];

	st = parse(text, len, &env, &err);
	snprintf(where, sizeof where, "line %u:", line);
	if (!ok(st == MF_ECORRUPT && err.status == MF_ECORRUPT && (!line || strstr(err.msg, where)),
		"bad: %s -> MF_ECORRUPT%s%s", label, line ? " at " : "", line ? where : ""))
		tap_diag("status %d, msg '%s'", st, err.msg);
	mf_envelope_free(&env);
}

#define BAD(label, text, line) bad(label, text, sizeof text - 1, line)

/* The head of a valid envelope (5 lines), a recipient block (3 lines), the end. */
#define HEAD "Version: 2\nId: 1795431256.M1P2Q1.mx1\nArrival: 2026-11-23T10:54:16Z\n" \
	     "Sender: <s@example.org>\nSize: 10\n"
#define RCPT "Recipient: <u@example.org>\nState: pending\nAttempts: 0\n"
#define END1 "End: 1\n"

/* The issue's examples (#6), each refused with the line it is on. */
static void test_issue(void)
{
	BAD("cut after 'Recipient: <u'", HEAD "Recipient: <u", 6);
	BAD("cut after a whole recipient block", HEAD RCPT, 8);
	BAD("cut after the first of two recipients",
	    HEAD RCPT "Recipient: <v@example.org>\nState: pending\nAttempts: 0\n", 11);
	BAD("cut inside the End line", HEAD RCPT "End: 1", 9);
	BAD("no Version", "Id: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\nSender: <s@example.org>\n"
	    "Size: 1\n" RCPT END1, 1);
	BAD("no Id", "Version: 2\nArrival: 2026-11-23T10:54:16Z\nSender: <s@example.org>\n"
	    "Size: 1\n" RCPT END1, 2);
	BAD("no Arrival", "Version: 2\nId: 1795431256.M1P2Q1.x\nSender: <s@example.org>\nSize: 1\n" RCPT END1, 3);
	BAD("no Size", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\n"
	    "Sender: <s@example.org>\n" RCPT END1, 5);
	BAD("no recipients", HEAD "End: 0\n", 6);
	BAD("Recipient: <a b>> NOTIFY=NEVER", HEAD "Recipient: <a b>> NOTIFY=NEVER\n"
	    "State: pending\nAttempts: 0\n" END1, 6);
	BAD("Recipient: <a b>", HEAD "Recipient: <a b>\nState: pending\nAttempts: 0\n" END1, 6);
	BAD("Recipient with a parameter after it", HEAD "Recipient: <u@example.org> NOTIFY=NEVER\n"
	    "State: pending\nAttempts: 0\n" END1, 6);
	BAD("Sender: <> x", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\nSender: <> x\n"
	    "Size: 1\n" RCPT END1, 4);
	BAD("Sender: <<>>", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\nSender: <<>>\n"
	    "Size: 1\n" RCPT END1, 4);
	BAD("a second Id", "Version: 2\nId: 1795431256.M1P2Q1.x\nId: y\nArrival: 2026-11-23T10:54:16Z\n"
	    "Sender: <s@example.org>\nSize: 1\n" RCPT END1, 3);
	BAD("a second Id after the known keys", HEAD "Id: y\n" RCPT END1, 6);
	BAD("a second State", HEAD RCPT "State: delivered\n" END1, 9);
	BAD("ESC in a reply", HEAD RCPT "Last-Reply: 250 \033[2Jok\n" END1, 9);
	BAD("TAB in a reply", HEAD RCPT "Last-Reply: 250\tok\n" END1, 9);
	BAD("CR at the end of a line", "Version: 2\r\n", 1);
	BAD("DEL in an unknown value", HEAD "X-Note: a\177b\n" RCPT END1, 6);
	BAD("NUL in the middle", HEAD RCPT "X: a\0b\n" END1, 9);
}

static void test_bad(void)
{
	BAD("empty text", "", 0);
	BAD("old Version 1", "Version: 1\nId: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\n"
	    "Sender: <s@example.org>\nSize: 1\n" RCPT, 1);
	BAD("Version 3", "Version: 3\n", 1);
	BAD("Version 02", "Version: 02\n", 1);
	BAD("no colon", HEAD "garbage\n" RCPT END1, 6);
	BAD("no space after the colon", HEAD "X-Key:value\n" RCPT END1, 6);
	BAD("empty key", HEAD ": value\n" RCPT END1, 6);
	BAD("key with a blank", HEAD "X Key: value\n" RCPT END1, 6);
	BAD("lower-case known key", HEAD "recipient: <u@example.org>\nState: pending\n"
	    "Attempts: 0\n" END1, 6);
	BAD("lower-case state key", HEAD "Recipient: <u@example.org>\nstate: pending\n"
	    "Attempts: 0\n" END1, 7);
	BAD("upper-case state", HEAD "Recipient: <u@example.org>\nState: Pending\n"
	    "Attempts: 0\n" END1, 7);
	BAD("bad State", HEAD "Recipient: <u@example.org>\nState: sleeping\nAttempts: 0\n" END1, 7);
	BAD("empty State", HEAD "Recipient: <u@example.org>\nState: \nAttempts: 0\n" END1, 7);
	BAD("no State", HEAD "Recipient: <u@example.org>\nAttempts: 0\n" END1, 7);
	BAD("no Attempts", HEAD "Recipient: <u@example.org>\nState: pending\n" END1, 8);
	BAD("Attempts before State", HEAD "Recipient: <u@example.org>\nAttempts: 0\n"
	    "State: pending\n" END1, 7);
	BAD("Attempts not a number", HEAD "Recipient: <u@example.org>\nState: pending\n"
	    "Attempts: three\n" END1, 8);
	BAD("Attempts with a leading zero", HEAD "Recipient: <u@example.org>\nState: pending\n"
	    "Attempts: 01\n" END1, 8);
	BAD("Attempts with a sign", HEAD "Recipient: <u@example.org>\nState: pending\n"
	    "Attempts: +1\n" END1, 8);
	BAD("Attempts too large", HEAD "Recipient: <u@example.org>\nState: pending\n"
	    "Attempts: 1000001\n" END1, 8);
	BAD("bad Next-Attempt", HEAD RCPT "Next-Attempt: tomorrow\n" END1, 9);
	BAD("Next-Attempt at 0", HEAD RCPT "Next-Attempt: 1970-01-01T00:00:00Z\n" END1, 9);
	BAD("Last-Attempt without Z", HEAD RCPT "Last-Attempt: 2026-11-23T10:54:16\n" END1, 9);
	BAD("Route before Last-Reply", HEAD RCPT "Route: mx:x\nLast-Reply: 250 ok\n" END1, 10);
	BAD("bad Notified", HEAD RCPT "Notified: delayed,failed\n" END1, 9);
	BAD("known key after an unknown one", HEAD RCPT "X-New: 1\nLast-Reply: 250 ok\n" END1, 10);
	BAD("unknown key before the required ones", "Version: 2\nX-New: 1\n", 2);
	BAD("bad Arrival", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 2026-13-01T00:00:00Z\n", 3);
	BAD("Arrival before Id", "Version: 2\nArrival: 2026-11-23T10:54:16Z\nId: 1795431256.M1P2Q1.x\n", 2);
	BAD("bad Size", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\n"
	    "Sender: <s@example.org>\nSize: 12abc\n", 5);
	BAD("Size overflow", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\n"
	    "Sender: <s@example.org>\nSize: 18446744073709551616\n", 5);
	BAD("Id with a slash", "Version: 2\nId: a/b\n", 2);
	BAD("Id with a blank", "Version: 2\nId: a b\n", 2);
	BAD("Sender without brackets", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 2026-11-23T10:54:16Z\n"
	    "Sender: s@example.org\n", 4);
	BAD("Sender with blanks inside the brackets", "Version: 2\nId: 1795431256.M1P2Q1.x\n"
	    "Arrival: 2026-11-23T10:54:16Z\nSender: < s@example.org>\n", 4);
	BAD("null recipient", HEAD "Recipient: <>\nState: pending\nAttempts: 0\n" END1, 6);
	BAD("recipient with a bad domain", HEAD "Recipient: <u@-x.org>\nState: pending\n"
	    "Attempts: 0\n" END1, 6);
	BAD("End counts too many", HEAD RCPT "End: 2\n", 9);
	BAD("End counts too few", HEAD RCPT RCPT "End: 1\n", 12);
	BAD("End with junk", HEAD RCPT "End: 1 \n", 9);
	BAD("text after End", HEAD RCPT END1 "X: 1\n", 10);
	BAD("a blank line after End", HEAD RCPT END1 "\n", 10);
	BAD("a blank line", HEAD "\n" RCPT END1, 6);
	BAD("End twice", HEAD RCPT END1 END1, 10);
	BAD("End in the entry block", HEAD END1, 6);
	BAD("a recipient key in the entry block", HEAD "State: pending\n" RCPT END1, 6);
	BAD("an entry key in a recipient block", HEAD RCPT "Sender: <s@example.org>\n" END1, 9);
	BAD("End spelt end", HEAD RCPT "end: 1\n", 9);
	{
		static const char t[] = HEAD RCPT END1 "TRAILING";
		struct mf_envelope env;
		struct mf_err err;
		/* only the first len bytes count */
		ok(parse(t, sizeof t - 1 - 8, &env, &err) == MF_OK && env.nrcpts == 1,
		   "parse reads only len bytes");
		mf_envelope_free(&env);
	}
}

/* Every proper prefix of a valid envelope is refused: nothing is half read. */
static void test_prefixes(void)
{
	static const char t[] = HEAD RCPT "Last-Reply: 451 4.7.1 later\n"
		"Recipient: <v@example.org>\nState: deferred\nAttempts: 3\n"
		"Next-Attempt: 2026-11-23T11:00:00Z\nX-Kept: 1\nEnd: 2\n";
	struct mf_envelope env;
	struct mf_err err;
	size_t n, accepted = 0;

	for (n = 0; n < sizeof t - 1; n++) {
		if (parse(t, n, &env, &err) != MF_ECORRUPT) {
			accepted++;
			tap_diag("prefix of %zu bytes: status %d", n, err.status);
		}
		mf_envelope_free(&env);
	}
	is_int((long long)accepted, 0, "every proper prefix is MF_ECORRUPT");
	ok(parse(t, sizeof t - 1, &env, &err) == MF_OK && env.nrcpts == 2,
	   "the whole text parses");
	mf_envelope_free(&env);
}

static void fixed_point(const char *label, const char *text)
{
	struct mf_envelope env;
	struct mf_buf b = { 0 };
	struct mf_err err;
	enum mf_status st;

	st = parse(text, strlen(text), &env, &err);
	if (st)
		tap_diag("%s: %s", label, err.msg);
	if (!ok(st == MF_OK && format(&env, &b) == 0 && b.len == strlen(text) &&
		!memcmp(b.data, text, b.len), "fixed point: %s", label) && b.data)
		diag_text(b.data);
	mf_envelope_free(&env);
	mf_buf_free(&b);
}

static void test_fixed_point(void)
{
	struct mf_envelope env;
	struct mf_buf b = { 0 };

	fixed_point("smallest", HEAD RCPT END1);
	fixed_point("null sender", "Version: 2\nId: 1795431256.M1P2Q1.x\nArrival: 1970-01-01T00:00:00Z\n"
		    "Sender: <>\nSize: 0\n" RCPT END1);
	fixed_point("empty free-text values", HEAD "Client-Address: \nClient-Helo: \n"
		    "Receiver-Id: \n" RCPT "Last-Reply: \nRoute: \nRemote-MTA: \n" END1);
	fixed_point("blanks kept in free text", HEAD "Client-Helo:  two  blanks \n" RCPT END1);
	fixed_point("every key", HEAD "Client-Address: 192.0.2.1\nClient-Helo: h.example\n"
		    "Receiver-Id: r1\nX-A: a\n"
		    "Recipient: <u@example.org>\nState: failed\nAttempts: 1000000\n"
		    "Last-Attempt: 1969-12-31T23:59:59Z\nNext-Attempt: 9999-12-31T23:59:59Z\n"
		    "Last-Reply: 550 5.1.1 <u@example.org>: no\nRoute: mx:example.org\n"
		    "Remote-MTA: mx.example.org\nNotified: delayed, failed\nX-B: b: c\n"
		    "Recipient: <\"q u\"@example.org>\nState: delivered\nAttempts: 1\n"
		    "Notified: failed\nEnd: 2\n");
	fixed_point("UTF-8 address", HEAD "Recipient: <\xc3\xa9t\xc3\xa9@example.org>\n"
		    "State: pending\nAttempts: 0\n" END1);
	fixed_point("the previous version's writer's example, converted",
		    "Version: 2\nId: 1795431256.M123456P4242Q1.mx1\n"
		    "Arrival: 2026-11-23T10:54:16Z\nSender: <sender@example.org>\n"
		    "Size: 123456789012\nRecipient: <deferred@example.com>\nState: deferred\n"
		    "Attempts: 3\nLast-Attempt: 2026-11-23T10:55:00Z\n"
		    "Next-Attempt: 2026-11-23T11:56:40Z\nEnd: 1\n");

	/* and from the struct side: format(parse(format(env))) */
	build_full(&env);
	ok(format(&env, &b) == 0, "format the full envelope");
	fixed_point("format of a full envelope", b.data ? b.data : "");
	mf_envelope_free(&env);
	mf_buf_free(&b);
}

/* The writer makes nothing the reader would refuse. */
static void test_writer(void)
{
	struct mf_envelope env, back;
	struct mf_buf b = { 0 };
	struct mf_err err;
	char big[3000];

	mf_envelope_init(&env);
	mf_envelope_set(&env.sender, "s@example.org");
	mf_envelope_add_rcpt(&env, "r@example.org");
	ok(mf_envelope_format(&env, &b, &err) == MF_EINTERNAL && strstr(err.msg, "Id"),
	   "no Id: not written (MF_EINTERNAL)");
	mf_envelope_set(&env.id, "1795431256.M1P2Q1.x1");
	mf_envelope_set(&env.rcpts[0].addr, "a b>> NOTIFY=NEVER");
	ok(mf_envelope_format(&env, &b, &err) == MF_EINTERNAL, "a bad recipient: not written");
	mf_envelope_set(&env.rcpts[0].addr, "r@example.org");
	mf_envelope_set(&env.sender, "> x");
	ok(mf_envelope_format(&env, &b, &err) == MF_EINTERNAL, "a bad sender: not written");
	mf_envelope_set(&env.sender, "s@example.org");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big + 1010, "\xc3\xa9\xc3\xa9", 4); /* a UTF-8 sequence at the cut */
	mf_envelope_set(&env.rcpts[0].reply, big);
	mf_envelope_set(&env.client_helo, big);
	ok(format(&env, &b) == 0, "an over-long reply and HELO are written");
	ok(parse(b.data, b.len, &back, &err) == MF_OK && back.rcpts[0].reply &&
	   strlen(back.rcpts[0].reply) == MF_ENVELOPE_LINE_MAX - 3 - strlen("Last-Reply") - 1 &&
	   strlen(back.client_helo) <= MF_ENVELOPE_LINE_MAX - 3 - strlen("Client-Helo"),
	   "... shortened to the line bound, not inside a UTF-8 sequence, and read back");
	mf_envelope_free(&back);
	env.rcpts[0].attempts = 2000000;
	env.rcpts[0].notified = 0x7;
	env.rcpts[0].last_attempt = (time_t)400000000000LL; /* year > 9999 */
	ok(format(&env, &b) == 0 && parse(b.data, b.len, &back, &err) == MF_OK &&
	   back.rcpts[0].attempts == MF_ENVELOPE_ATTEMPTS_MAX && back.rcpts[0].notified == 3 &&
	   back.rcpts[0].last_attempt == 0,
	   "out-of-range numbers and times are written so that they read back");
	mf_envelope_free(&back);
	mf_envelope_free(&env);
	mf_envelope_init(&env);
	mf_envelope_set(&env.id, "1795431256.M1P2Q1.x1");
	ok(mf_envelope_format(&env, (mf_buf_reset(&b), &b), &err) == MF_EINTERNAL &&
	   strstr(err.msg, "recipients"), "no recipients: not written");
	mf_envelope_free(&env);
	mf_buf_free(&b);
}

/* Bounds: line length, line count. */
static void test_bounds(void)
{
	struct mf_buf t = { 0 };
	struct mf_envelope env;
	struct mf_err err;
	char v[MF_ENVELOPE_LINE_MAX + 8];
	size_t i, fill = MF_ENVELOPE_LINE_MAX - 1 - strlen("X-Long: ");

	memset(v, 'v', sizeof v - 1);
	v[fill] = '\0';
	mf_buf_addf(&t, HEAD "X-Long: %s\n" RCPT END1, v);
	ok(parse(t.data, t.len, &env, &err) == MF_OK, "a line of %u bytes with its LF is read",
	   MF_ENVELOPE_LINE_MAX);
	mf_envelope_free(&env);
	mf_buf_reset(&t);
	v[fill] = 'v';
	v[fill + 1] = '\0';
	mf_buf_addf(&t, HEAD "X-Long: %s\n" RCPT END1, v);
	ok(parse(t.data, t.len, &env, &err) == MF_ECORRUPT && strstr(err.msg, "line 6: line longer"),
	   "a line of %u bytes is refused", MF_ENVELOPE_LINE_MAX + 1);
	mf_envelope_free(&env);
	mf_buf_reset(&t);
	mf_buf_adds(&t, HEAD);
	for (i = 5; i < MF_ENVELOPE_LINES_MAX; i++)
		mf_buf_adds(&t, "X: \n");
	mf_buf_adds(&t, RCPT END1);
	ok(parse(t.data, t.len, &env, &err) == MF_ECORRUPT && strstr(err.msg, "more than"),
	   "more than %u lines are refused", MF_ENVELOPE_LINES_MAX);
	mf_envelope_free(&env);
	mf_buf_free(&t);
}

static void test_states(void)
{
	enum mf_rcpt_state st = MF_RCPT_FAILED;

	is_str(mf_rcpt_state_name(MF_RCPT_PENDING), "pending", "name of PENDING");
	is_str(mf_rcpt_state_name(MF_RCPT_DEFERRED), "deferred", "name of DEFERRED");
	is_str(mf_rcpt_state_name(MF_RCPT_DELIVERED), "delivered", "name of DELIVERED");
	is_str(mf_rcpt_state_name(MF_RCPT_FAILED), "failed", "name of FAILED");
	ok(mf_rcpt_state_parse("Deferred", &st) == 0 && st == MF_RCPT_DEFERRED,
	   "parse 'Deferred'");
	st = MF_RCPT_FAILED;
	ok(mf_rcpt_state_parse("done", &st) == -1 && st == MF_RCPT_FAILED,
	   "unknown state refused, output untouched");
	ok(mf_rcpt_state_parse("", &st) == -1, "empty state refused");
}

static void test_set(void)
{
	char *f = NULL;

	ok(mf_envelope_set(&f, "one") == 0 && streq(f, "one"), "set copies");
	ok(mf_envelope_set(&f, "two") == 0 && streq(f, "two"), "set replaces");
	ok(mf_envelope_set(&f, NULL) == 0 && f == NULL, "set NULL clears");
}

int main(void)
{
	tap_plan(141);
	test_round_trip();
	test_unknown_keys();
	test_flatten();
	test_issue();
	test_bad();
	test_prefixes();
	test_fixed_point();
	test_writer();
	test_bounds();
	test_states();
	test_set();
	return tap_done();
}
