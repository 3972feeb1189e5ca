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
	ok(strstr(b1.data, "Version: 1\n") == b1.data, "the file starts with Version: 1");
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

	/* minimal envelope: NULL optional fields, no recipients */
	mf_envelope_init(&env);
	ok(format(&env, &b1) == 0 && strstr(b1.data, "Sender: <>\n") &&
	   !strstr(b1.data, "Client-") && !strstr(b1.data, "Recipient"),
	   "a NULL sender is written as <>, absent fields are left out");
	st = parse(b1.data, b1.len, &back, &err);
	ok(st == MF_OK && streq(back.sender, "") && back.nrcpts == 0 && !back.client_addr,
	   "null sender parses as \"\"");
	mf_envelope_free(&back);
	mf_envelope_free(&env);
	mf_buf_free(&b1);
	mf_buf_free(&b2);
}

static void test_unknown_keys(void)
{
	static const char text[] =
		"Version: 1\n"
		"X-Future-A: first entry key\n"
		"Id: abc\n"
		"Sender: <s@example.org>\n"
		"X-Future-B: second: with colon\n"
		"Arrival: 2026-11-23T10:54:16Z\n"
		"Recipient: <r1@example.org>\n"
		"State: deferred\n"
		"X-Rcpt-One: r1 value\n"
		"Attempts: 2\n"
		"X-Rcpt-Two: r1 second\n"
		"Recipient: <r2@example.org>\n"
		"X-Rcpt-Three: r2 value\n";
	struct mf_envelope env, back;
	struct mf_buf b = { 0 };
	struct mf_err err;
	const char *a, *bb, *r2;

	if (!is_int(parse(text, strlen(text), &env, &err), MF_OK, "parse with unknown keys"))
		tap_diag("%s", err.msg);
	is_str(env.extra.data, "X-Future-A: first entry key\nX-Future-B: second: with colon\n",
	       "unknown entry keys are kept, in order");
	is_str(env.nrcpts >= 1 ? env.rcpts[0].extra.data : NULL,
	       "X-Rcpt-One: r1 value\nX-Rcpt-Two: r1 second\n",
	       "unknown keys of recipient 1 stay with it, in order");
	is_str(env.nrcpts >= 2 ? env.rcpts[1].extra.data : NULL, "X-Rcpt-Three: r2 value\n",
	       "unknown keys of recipient 2 stay with it");
	ok(format(&env, &b) == 0, "format the envelope with unknown keys");
	a = strstr(b.data, "X-Future-A: first entry key\n");
	bb = strstr(b.data, "X-Future-B: second: with colon\n");
	r2 = strstr(b.data, "Recipient: <r2@example.org>\n");
	ok(a && bb && a < bb && bb < strstr(b.data, "Recipient:"),
	   "unknown entry keys are written back, in order, before the first recipient");
	ok(r2 && strstr(b.data, "X-Rcpt-Two: r1 second\n") < r2 &&
	   strstr(b.data, "X-Rcpt-One: r1 value\n") > strstr(b.data, "Recipient: <r1@example.org>") &&
	   strstr(b.data, "X-Rcpt-Three: r2 value\n") > r2,
	   "unknown recipient keys are written back inside their own block");
	if (!is_int(parse(b.data, b.len, &back, &err), MF_OK, "parse the written text"))
		tap_diag("%s", err.msg);
	ok(back.nrcpts == 2 && streq(back.extra.data, env.extra.data) &&
	   streq(back.rcpts[0].extra.data, env.rcpts[0].extra.data) &&
	   streq(back.rcpts[1].extra.data, env.rcpts[1].extra.data) &&
	   back.rcpts[0].attempts == 2 && back.rcpts[0].state == MF_RCPT_DEFERRED,
	   "a second round trip keeps every unknown key in its place");
	mf_envelope_free(&back);
	mf_envelope_free(&env);
	mf_buf_free(&b);

	/* keys are case-insensitive */
	{
		static const char lc[] = "version: 1\nsender: <x@y>\nrecipient: <r@y>\n"
					 "state: DELIVERED\nattempts: 7\nlast-reply: 250 ok\n";
		ok(parse(lc, strlen(lc), &env, &err) == MF_OK && streq(env.sender, "x@y") &&
		   env.nrcpts == 1 && env.rcpts[0].state == MF_RCPT_DELIVERED &&
		   env.rcpts[0].attempts == 7 && streq(env.rcpts[0].reply, "250 ok") &&
		   env.extra.len == 0 && env.rcpts[0].extra.len == 0,
		   "keys and state names are case-insensitive");
		mf_envelope_free(&env);
	}
}

static void test_flatten(void)
{
	struct mf_envelope env, back;
	struct mf_buf b = { 0 };
	struct mf_err err;

	mf_envelope_init(&env);
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
	if (!ok(st == MF_EDATA && err.status == MF_EDATA && (!line || strstr(err.msg, where)),
		"bad: %s -> MF_EDATA%s%s", label, line ? " at " : "", line ? where : ""))
		tap_diag("status %d, msg '%s'", st, err.msg);
	mf_envelope_free(&env);
}

#define BAD(label, text, line) bad(label, text, sizeof text - 1, line)

static void test_bad(void)
{
	BAD("no colon", "Version: 1\nSender: <a@b>\ngarbage\n", 3);
	BAD("empty key", "Version: 1\nSender: <a@b>\n: value\n", 3);
	BAD("bad State", "Sender: <a@b>\nRecipient: <r@b>\nState: sleeping\n", 3);
	BAD("empty State", "Sender: <a@b>\nRecipient: <r@b>\nState:\n", 3);
	BAD("bad Next-Attempt", "Sender: <a@b>\nRecipient: <r@b>\nNext-Attempt: tomorrow\n", 3);
	BAD("bad Last-Attempt",
	    "Sender: <a@b>\nRecipient: <r@b>\nLast-Attempt: 2026-11-23T10:54:16\n", 3);
	BAD("bad Arrival", "Version: 1\nArrival: 2026-13-01T00:00:00Z\nSender: <a@b>\n", 2);
	BAD("Attempts not a number", "Sender: <a@b>\nRecipient: <r@b>\nAttempts: three\n", 3);
	BAD("negative Attempts", "Sender: <a@b>\nRecipient: <r@b>\nAttempts: -1\n", 3);
	BAD("empty Attempts", "Sender: <a@b>\nRecipient: <r@b>\nAttempts:\n", 3);
	BAD("Attempts too large", "Sender: <a@b>\nRecipient: <r@b>\nAttempts: 1000001\n", 3);
	BAD("Attempts with junk", "Sender: <a@b>\nRecipient: <r@b>\nAttempts: 3x\n", 3);
	BAD("bad Size", "Sender: <a@b>\nSize: 12abc\n", 2);
	BAD("Size overflow", "Sender: <a@b>\nSize: 18446744073709551616\n", 2);
	BAD("wrong Version", "Version: 2\nSender: <a@b>\n", 1);
	BAD("Version 0", "Version: 0\nSender: <a@b>\n", 1);
	BAD("Version not a number", "Version: one\nSender: <a@b>\n", 1);
	BAD("missing Sender", "Version: 1\nId: x\nRecipient: <r@b>\n", 0);
	BAD("empty text", "", 0);
	BAD("Sender only inside a recipient block",
	    "Version: 1\nRecipient: <r@b>\nSender: <a@b>\n", 0);
	BAD("NUL in the middle", "Version: 1\nSender: <a\0@b>\n", 0);
	BAD("NUL at the end", "Version: 1\nSender: <a@b>\n\0", 0);
	BAD("line number counts blank lines", "Version: 1\n\n\nSender: <a@b>\nnope\n", 5);

	{
		struct mf_envelope env;
		struct mf_err err;
		static const char t[] = "Version: 1\nSender: <a@b>\nRecipient: <r@b>\nAttempts: 1000000\n";
		ok(parse(t, sizeof t - 1, &env, &err) == MF_OK && env.rcpts[0].attempts == 1000000,
		   "Attempts: 1000000 is the largest accepted");
		mf_envelope_free(&env);
	}
	{
		struct mf_envelope env;
		struct mf_err err;
		static const char t[] = "Version: 1\nSender: <a@b>\r\n";
		enum mf_status st = parse(t, sizeof t - 1, &env, &err);
		ok(st == MF_EDATA || (st == MF_OK && streq(env.sender, "a@b")),
		   "a CR at the end of a line is not silently kept in a value");
		mf_envelope_free(&env);
	}
	{
		struct mf_envelope env;
		struct mf_err err;
		static const char t[] = "Version: 1\nSender: <a@b>";
		ok(parse(t, sizeof t - 1, &env, &err) == MF_OK && streq(env.sender, "a@b"),
		   "a last line without LF is read");
		mf_envelope_free(&env);
	}
	{
		struct mf_envelope env;
		struct mf_err err;
		static const char t[] = "Version: 1\nSender: <a@b>\nRecipient: <r@b>\nX: 1\nTRAILING";
		/* only the first len bytes count */
		ok(parse(t, sizeof t - 1 - 8, &env, &err) == MF_OK && env.nrcpts == 1 &&
		   streq(env.rcpts[0].extra.data, "X: 1\n"),
		   "parse reads only len bytes");
		mf_envelope_free(&env);
	}
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
	tap_plan(79);
	test_round_trip();
	test_unknown_keys();
	test_flatten();
	test_bad();
	test_states();
	test_set();
	return tap_done();
}
