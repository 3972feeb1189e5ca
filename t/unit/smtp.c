/* SPDX-License-Identifier: MIT */
/* Unit tests for the SMTP/LMTP client (mf_smtp) against t/sink.py peers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "mf_buf.h"
#include "mf_log.h"
#include "mf_smtp.h"
#include "tap.h"
#include "util.h"

/* Sinks started by t/0010-lib-smtp.t; each has a directory and a rules file. */
struct sink {
	const char *name;
	int port;
	const char *dir, *rules;
};

static struct sink plain, lmtp, tls, authsink;
static int closed_port;
static const char *cert;
static char tmp[PATH_MAX];


static void sink_env(struct sink *k, const char *name, const char *pfx)
{
	const char *p = getenv(pathf("MF_%s_PORT", pfx));

	k->name = name;
	k->port = p ? atoi(p) : 0;
	k->dir = getenv(pathf("MF_%s_DIR", pfx));
	k->rules = getenv(pathf("MF_%s_RULES", pfx));
}

static void rules(const struct sink *k, const char *text)
{
	if (t_write_str(k->rules, text) < 0)
		tap_diag("cannot write %s", k->rules);
}

static struct sockaddr_in sin_of(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static struct mf_smtp_opts opts(void)
{
	struct mf_smtp_opts o = { .helo_name = "client.test", .t_connect = 5,
				  .t_helo = 10, .t_mail = 10, .t_rcpt = 10, .t_data = 10,
				  .t_block = 10, .t_eod = 10, .t_other = 10 };
	return o;
}

static enum mf_status open_sink(struct mf_smtp **s, const struct sink *k,
				const struct mf_smtp_opts *o, struct mf_err *err)
{
	struct sockaddr_in a = sin_of(k->port);

	memset(err, 0, sizeof *err);
	return mf_smtp_open(s, (struct sockaddr *)&a, sizeof a, "localhost", o, err);
}

static int msg_fd(const char *body, uint64_t *size)
{
	const char *p = pathf("%s/msg", tmp);

	if (t_write_str(p, body) < 0)
		return -1;
	*size = strlen(body);
	return open(p, O_RDONLY | O_CLOEXEC);
}

static enum mf_status send_msg(struct mf_smtp *s, const char *from,
			       struct mf_smtp_rcpt *r, size_t n, const char *body,
			       struct mf_err *err)
{
	uint64_t size = 0;
	int fd = msg_fd(body, &size);
	enum mf_status st;

	memset(err, 0, sizeof *err);
	st = mf_smtp_send(s, from, r, n, fd, size, err);
	close(fd);
	if (st)
		tap_diag("send: %s", err->msg);
	return st;
}

/* The number of stored messages in a sink (N.env files). */
static int stored(const struct sink *k)
{
	int n = 0;

	while (t_exists(pathf("%s/%d.env", k->dir, n + 1)))
		n++;
	return n;
}

static char *env_of(const struct sink *k, int n)
{
	char *p = t_read_file(pathf("%s/%d.env", k->dir, n), NULL);

	return p ? p : strdup("");
}

/* LF -> CRLF, a missing final newline added: what the sink should store. */
static char *crlf(const char *s)
{
	struct mf_buf b = { 0 };

	for (; *s; s++) {
		if (*s == '\n')
			mf_buf_add(&b, "\r", 1);
		mf_buf_add(&b, s, 1);
	}
	if (b.len && b.data[b.len - 1] != '\n')
		mf_buf_adds(&b, "\r\n");
	return mf_buf_detach(&b);
}

static void test_plain(void)
{
	const char *body = "From: a@example.org\nSubject: dots\n\n.leading dot\n"
			   "..two dots\n.\n\nend . \n.. \nno final newline";
	struct mf_smtp_rcpt r[2] = { { .addr = "one@example.net" },
				     { .addr = "two@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_smtp *s;
	struct mf_err err;
	char *got, *want, *env;
	int n0 = stored(&plain);

	rules(&plain, "");
	if (!ok(open_sink(&s, &plain, &o, &err) == MF_OK, "open plain sink")) {
		tap_diag("%s", err.msg);
		return;
	}
	ok(!mf_smtp_tls_active(s), "no TLS by default");
	ok(!strncmp(mf_smtp_peer(s), "localhost[127.0.0.1]:", 21), "peer name: %s",
	   mf_smtp_peer(s));
	is_int(send_msg(s, "a@example.org", r, 2, body, &err), MF_OK, "delivered");
	is_int(r[0].reply.code, 250, "first recipient 250");
	is_str(r[1].reply.dsn, "2.0.0", "enhanced code of the end of data");
	ok(!strncmp(r[1].reply.text, "250 2.0.0 Ok: queued as", 23), "reply text: %s",
	   r[1].reply.text);
	is_int(stored(&plain), n0 + 1, "one message stored");
	got = t_read_file(pathf("%s/%d.eml", plain.dir, n0 + 1), NULL);
	want = crlf(body);
	is_str(got, want, "body round trip: CRLF, dot stuffing undone");
	env = env_of(&plain, n0 + 1);
	ok(strstr(env, "MAIL FROM:<a@example.org> SIZE=") && !strstr(env, "BODY="),
	   "MAIL with SIZE, no BODY for 7-bit");
	ok(strstr(env, "RCPT TO:<one@example.net>\nRCPT TO:<two@example.net>\nTLS: no\n") != NULL,
	   "both recipients, no TLS");
	free(got);
	free(want);
	free(env);
	mf_smtp_close(s);
}

static void test_rcpt_replies(const char *how, const char *extra)
{
	struct mf_smtp_rcpt r[3] = { { .addr = "good@example.net" },
				     { .addr = "bad@example.net" },
				     { .addr = "later@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_smtp *s;
	struct mf_err err;
	char *env;
	int n0 = stored(&plain);

	rules(&plain, pathf("%srcpt bad@example.net 550 5.1.1 no such user\n"
			    "rcpt later@example.net 451 4.7.1 try later\n", extra));
	if (!ok(open_sink(&s, &plain, &o, &err) == MF_OK, "%s: open", how))
		return;
	is_int(send_msg(s, "a@example.org", r, 3, "Subject: x\n\nhi\n", &err), MF_OK,
	       pathf("%s: transaction ends with replies", how));
	is_int(r[0].reply.code, 250, pathf("%s: good accepted", how));
	is_int(r[1].reply.code, 550, pathf("%s: bad 550", how));
	is_str(r[1].reply.dsn, "5.1.1", pathf("%s: bad 5.1.1", how));
	is_str(r[1].reply.text, "550 5.1.1 no such user", pathf("%s: bad text", how));
	is_int(r[2].reply.code, 451, pathf("%s: later 451", how));
	env = env_of(&plain, n0 + 1);
	ok(strstr(env, "RCPT TO:<good@example.net>\nTLS") != NULL,
	   "%s: only the good recipient delivered", how);
	free(env);
	mf_smtp_close(s);
}

static void test_helo(void)
{
	struct mf_smtp_rcpt r[1] = { { .addr = "h@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_smtp *s;
	struct mf_err err;
	char *env;
	int n0 = stored(&plain);

	rules(&plain, "ehlo * 502 5.5.1 no EHLO here\n");
	if (!ok(open_sink(&s, &plain, &o, &err) == MF_OK, "EHLO refused: HELO instead")) {
		tap_diag("%s", err.msg);
		return;
	}
	is_int(send_msg(s, "a@example.org", r, 1, "helo\n", &err), MF_OK, "HELO: delivered");
	env = env_of(&plain, n0 + 1);
	ok(!strncmp(env, "MAIL FROM:<a@example.org>\n", 26), "HELO: no ESMTP parameters");
	free(env);
	mf_smtp_close(s);
	rules(&plain, "");
}

static void test_refusals_and_reuse(void)
{
	struct mf_smtp_rcpt r[2] = { { .addr = "x@example.net" },
				     { .addr = "bad@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_smtp *s;
	struct mf_err err;
	int n0 = stored(&plain);

	rules(&plain, "mail a@example.org 550 5.7.1 sender rejected\n");
	if (!ok(open_sink(&s, &plain, &o, &err) == MF_OK, "reuse: open"))
		return;
	is_int(send_msg(s, "a@example.org", r, 2, "\n", &err), MF_OK, "MAIL refused: MF_OK");
	ok(r[0].reply.code == 550 && r[1].reply.code == 550 &&
	   !strcmp(r[1].reply.text, "550 5.7.1 sender rejected"),
	   "MAIL refusal copied to every recipient");

	rules(&plain, "rcpt bad@example.net 550 5.1.1 no such user\ndata * 552 5.3.4 too big\n");
	is_int(send_msg(s, "b@example.org", r, 2, "\n", &err), MF_OK, "DATA refused: MF_OK");
	ok(r[0].reply.code == 552 && !strcmp(r[0].reply.dsn, "5.3.4"),
	   "end-of-data refusal for the accepted recipient");
	is_int(r[1].reply.code, 550, "the refused recipient keeps its own reply");

	rules(&plain, "rcpt x@example.net 550 5.1.1 no\nrcpt bad@example.net 550 5.1.1 no\n");
	is_int(send_msg(s, "c@example.org", r, 2, "\n", &err), MF_OK, "no recipient: MF_OK");
	ok(r[0].reply.code == 550 && r[1].reply.code == 550, "both refused");

	rules(&plain, "");
	is_int(send_msg(s, "d@example.org", r, 2, "Subject: 1\n\n1\n", &err), MF_OK,
	       "reuse: transaction after refusals");
	is_int(send_msg(s, "e@example.org", r, 1, "Subject: 2\n\n2\n", &err), MF_OK,
	       "reuse: another one");
	is_int(stored(&plain), n0 + 2, "two messages stored on one session");
	mf_smtp_close(s);
}

static void test_lmtp(void)
{
	struct mf_smtp_rcpt r[4] = { { .addr = "a@example.net" }, { .addr = "x@example.net" },
				     { .addr = "bad@example.net" }, { .addr = "c@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_smtp *s;
	struct mf_err err;

	o.lmtp = 1;
	rules(&lmtp, "lmtp x@example.net 452 4.2.2 mailbox full\n"
		     "rcpt bad@example.net 550 5.1.1 no such user\n");
	if (!ok(open_sink(&s, &lmtp, &o, &err) == MF_OK, "LMTP: LHLO")) {
		tap_diag("%s", err.msg);
		return;
	}
	is_int(send_msg(s, "a@example.org", r, 4, "Subject: l\n\nlmtp\n", &err), MF_OK,
	       "LMTP: transaction");
	is_int(r[0].reply.code, 250, "LMTP: a delivered");
	ok(r[1].reply.code == 452 && !strcmp(r[1].reply.dsn, "4.2.2"), "LMTP: x 452 4.2.2 after data");
	is_int(r[2].reply.code, 550, "LMTP: bad refused at RCPT");
	ok(r[3].reply.code == 250 && strstr(r[3].reply.text, "c@example.net"),
	   "LMTP: c has its own reply: %s", r[3].reply.text);
	is_int(send_msg(s, "a@example.org", r, 1, "x\n", &err), MF_OK, "LMTP: reuse");
	mf_smtp_close(s);
}

static void test_failures(void)
{
	struct mf_smtp_rcpt r[2] = { { .addr = "a@example.net" }, { .addr = "b@example.net" } };
	struct mf_smtp_opts o = opts();
	struct sink closed = { .port = closed_port };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct mf_smtp *s;
	struct mf_err err;

	is_int(open_sink(&s, &closed, &o, &err), MF_ETEMP, "closed port: MF_ETEMP");
	is_str(err.msg, pathf("connect 127.0.0.1:%d: Connection refused", closed_port),
	       "closed port: message");
	ok(s == NULL, "closed port: no session");

	snprintf(un.sun_path, sizeof un.sun_path, "%.80s/nosock", tmp);
	memset(&err, 0, sizeof err);
	is_int(mf_smtp_open(&s, (struct sockaddr *)&un, sizeof un, NULL, &o, &err), MF_ETEMP,
	       "missing unix socket: MF_ETEMP");
	ok(strstr(err.msg, "nosock: No such file or directory") != NULL, "unix: %s", err.msg);

	rules(&plain, "delay rcpt 3\n");
	o.t_rcpt = 1;
	if (!ok(open_sink(&s, &plain, &o, &err) == MF_OK, "timeout: open"))
		return;
	is_int(send_msg(s, "a@example.org", r, 2, "x\n", &err), MF_ETEMP, "timeout: MF_ETEMP");
	ok(strstr(err.msg, "timeout after RCPT TO") != NULL, "timeout: %s", err.msg);
	ok(r[0].reply.code == 0 && r[1].reply.code == 0, "timeout: no recipient has a reply");
	is_int(send_msg(s, "a@example.org", r, 2, "x\n", &err), MF_EINTERNAL,
	       "broken session refuses another transaction");
	mf_smtp_close(s);
	rules(&plain, "");
}

static void test_tls(void)
{
	struct mf_smtp_rcpt r[1] = { { .addr = "t@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_smtp *s;
	struct mf_err err;
	char *env;
	int n0 = stored(&tls);

	o.tls = MF_TLS_MAY;
	if (ok(open_sink(&s, &tls, &o, &err) == MF_OK, "MAY: open")) {
		ok(mf_smtp_tls_active(s), "MAY: TLS active");
		is_int(send_msg(s, "a@example.org", r, 1, "tls\n", &err), MF_OK, "MAY: delivered");
		env = env_of(&tls, n0 + 1);
		ok(strstr(env, "TLS: yes") != NULL, "MAY: sink saw TLS");
		free(env);
		mf_smtp_close(s);
	}
	o.tls = MF_TLS_MAY;
	if (ok(open_sink(&s, &plain, &o, &err) == MF_OK, "MAY without STARTTLS: plain"))
		mf_smtp_close(s);

	o.tls = MF_TLS_ENCRYPT;
	if (ok(open_sink(&s, &tls, &o, &err) == MF_OK, "ENCRYPT: open")) {
		ok(mf_smtp_tls_active(s), "ENCRYPT: TLS active");
		mf_smtp_close(s);
	}
	is_int(open_sink(&s, &plain, &o, &err), MF_ETEMP, "ENCRYPT, no STARTTLS: MF_ETEMP");
	ok(!strncmp(err.msg, "TLS required but not offered by localhost[127.0.0.1]:", 53),
	   "ENCRYPT: %s", err.msg);

	o.tls = MF_TLS_VERIFY;
	o.ca_file = cert;
	o.tls_name = "localhost";
	if (ok(open_sink(&s, &tls, &o, &err) == MF_OK, "VERIFY with the right CA and name")) {
		is_int(send_msg(s, "a@example.org", r, 1, "v\n", &err), MF_OK, "VERIFY: delivered");
		mf_smtp_close(s);
	} else {
		tap_diag("%s", err.msg);
	}
	o.tls_name = "wrong.example";
	is_int(open_sink(&s, &tls, &o, &err), MF_ETEMP, "VERIFY, wrong name: MF_ETEMP");
	ok(strstr(err.msg, "TLS handshake") != NULL, "VERIFY, wrong name: %s", err.msg);
	o.tls_name = "localhost";
	o.ca_file = NULL;
	is_int(open_sink(&s, &tls, &o, &err), MF_ETEMP, "VERIFY, system CAs: self-signed refused");
}

static void test_auth(void)
{
	struct mf_smtp_rcpt r[1] = { { .addr = "u@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_smtp *s;
	struct mf_err err;
	char *env;
	int n0 = stored(&authsink);

	o.tls = MF_TLS_ENCRYPT;
	o.auth_user = "user";
	o.auth_pass = "secret";
	if (ok(open_sink(&s, &authsink, &o, &err) == MF_OK, "AUTH over TLS")) {
		is_int(send_msg(s, "a@example.org", r, 1, "auth\n", &err), MF_OK,
		       "AUTH: delivered");
		env = env_of(&authsink, n0 + 1);
		ok(strstr(env, "TLS: yes\nAUTH: user\n") != NULL, "AUTH: sink recorded the user");
		free(env);
		mf_smtp_close(s);
	} else {
		tap_diag("%s", err.msg);
	}
	o.auth_pass = "wrong";
	is_int(open_sink(&s, &authsink, &o, &err), MF_ETEMP, "AUTH refused: MF_ETEMP");
	ok(strstr(err.msg, "AUTH failed: 535") != NULL, "AUTH refused: %s", err.msg);
	o.tls = MF_TLS_NONE;
	o.auth_pass = "secret";
	is_int(open_sink(&s, &authsink, &o, &err), MF_ETEMP, "AUTH never in plain text");
}

static void test_8bit_and_big(void)
{
	struct mf_smtp_rcpt r[1] = { { .addr = "j\xc3\xb6" "e@example.net" } };
	struct mf_smtp_opts o = opts();
	struct mf_buf b = { 0 };
	struct mf_smtp *s;
	struct mf_err err;
	char *env, *got, *want;
	int i, n0 = stored(&plain);

	rules(&plain, "");
	if (!ok(open_sink(&s, &plain, &o, &err) == MF_OK, "8bit: open"))
		return;
	is_int(send_msg(s, "a@example.org", r, 1, "Subject: 8\n\nGr\xc3\xbc\xc3\x9f" "e\n", &err),
	       MF_OK, "8bit: delivered");
	env = env_of(&plain, n0 + 1);
	ok(strstr(env, " BODY=8BITMIME") != NULL, "8bit: BODY=8BITMIME");
	ok(strstr(env, " SMTPUTF8") != NULL, "non-ASCII address: SMTPUTF8");
	free(env);

	for (i = 0; i < 20000; i++)
		mf_buf_addf(&b, "%sline %d of a big message ......................\n",
			    i % 7 ? "" : ".", i);
	r[0].addr = "big@example.net";
	is_int(send_msg(s, "a@example.org", r, 1, b.data, &err), MF_OK, "big: delivered");
	got = t_read_file(pathf("%s/%d.eml", plain.dir, n0 + 2), NULL);
	want = crlf(b.data);
	ok(got && !strcmp(got, want), "big: %zu bytes round trip across 64 KiB blocks", b.len);
	free(got);
	free(want);
	mf_buf_free(&b);
	mf_smtp_close(s);
}


#define N_OFFLINE 48

/* --- the reply grammar and its bounds, on buffers (no server) --- */

static long parse(const char *buf, size_t len, int ehlo, struct mf_smtp_parser *p,
		  const char **why)
{
	*why = "";
	mf_smtp_parser_init(p, ehlo);
	return mf_smtp_parse_reply(p, buf, len, why);
}

static long parse_str(const char *buf, struct mf_smtp_parser *p, const char **why)
{
	return parse(buf, strlen(buf), 0, p, why);
}

static void test_parser(void)
{
	static const char *bad[] = { "2500 x\r\n", "250x\r\n", "199 x\r\n", "600 x\r\n",
				     "260 x\r\n", "25 x\r\n", "abc\r\n", "\r\n", " 250 x\r\n" };
	static const char ehlo[] = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
				   "250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n";
	struct mf_smtp_parser p;
	struct mf_buf b = { 0 };
	const char *why;
	size_t i;

	is_int(parse_str("250 2.1.0 ok\r\nnext", &p, &why), 14, "one line: its bytes");
	ok(p.r.code == 250 && !strcmp(p.r.dsn, "2.1.0") && !strcmp(p.r.text, "250 2.1.0 ok"),
	   "one line: code, dsn, text (%s)", p.r.text);
	is_int(parse_str("250\n", &p, &why), 4, "bare code, bare LF");
	is_int(parse_str("250-a\r\n250 b\r\n", &p, &why), 14, "two lines");
	is_str(p.r.text, "250 a b", "two lines joined");
	is_int(parse_str("250-a\r\n", &p, &why), 0, "continuation without the last line: incomplete");
	is_int(parse_str("250-a\r\n250 b", &p, &why), 0, "last line without its end: incomplete");
	is_int(parse_str("250-a\r\n251 b\r\n", &p, &why), -1, "code changes in a reply: bad");
	is_str(why, "reply code changed inside a reply", "... and why");
	is_int(parse_str("250-a\r\n354 b\r\n", &p, &why), -1, "354 inside a 250 reply: bad");
	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		is_int(parse_str(bad[i], &p, &why), -1, pathf("bad line %.*s", (int)strcspn(bad[i], "\r"), bad[i]));
	is_int(parse("250 a\0b\r\n", 9, 0, &p, &why), -1, "NUL in a reply: bad");

	mf_buf_adds(&b, "250 ");
	while (b.len < MF_SMTP_LINE_MAX)
		mf_buf_adds(&b, "x");
	mf_buf_adds(&b, "\r\n");
	is_int(parse(b.data, b.len, 0, &p, &why), (long)b.len, "a line of MF_SMTP_LINE_MAX bytes: fine");
	b.len -= 2;
	mf_buf_adds(&b, "x\r\n");
	is_int(parse(b.data, b.len, 0, &p, &why), -1, "one byte more: an error, not a truncation");
	is_str(why, "reply line too long", "... reply line too long");
	is_int(parse(b.data, b.len - 2, 0, &p, &why), -1, "too long already before its end: bad at once");
	mf_buf_reset(&b);
	mf_buf_adds(&b, "250 ");
	while (b.len < 1024 * 1024)
		mf_buf_adds(&b, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
	mf_buf_adds(&b, "\r\n");
	is_int(parse(b.data, b.len, 0, &p, &why), -1, "a 1 MB line: an error");

	mf_buf_reset(&b);
	for (i = 1; i < MF_SMTP_REPLY_LINES; i++)
		mf_buf_adds(&b, "220-hello\r\n");
	mf_buf_adds(&b, "220 hello\r\n");
	is_int(parse(b.data, b.len, 0, &p, &why), (long)b.len, "MF_SMTP_REPLY_LINES lines: fine");
	mf_buf_reset(&b);
	for (i = 1; i < 200000; i++)
		mf_buf_adds(&b, "220-hello\r\n");
	mf_buf_adds(&b, "220 hello\r\n");
	is_int(parse(b.data, b.len, 0, &p, &why), -1, "a 200,000-line greeting: an error");
	is_str(why, "reply with too many lines", "... reply with too many lines");
	is_int(p.lines, MF_SMTP_REPLY_LINES + 1, "... stopped after the bound");
	mf_buf_free(&b);

	parse(ehlo, sizeof ehlo - 1, 0, &p, &why);
	ok(p.ext == 0, "not after EHLO: extensions not parsed");
	is_int(parse(ehlo, sizeof ehlo - 1, 1, &p, &why), (long)sizeof ehlo - 1, "EHLO reply");
	ok(p.ext == (MF_SMTP_EXT_PIPELINING | MF_SMTP_EXT_SIZE | MF_SMTP_EXT_AUTH |
		     MF_SMTP_EXT_AUTH_LOGIN | MF_SMTP_EXT_AUTH_PLAIN | MF_SMTP_EXT_8BITMIME) &&
	   p.max_size == 1000, "EHLO: extensions 0x%x, SIZE %llu", p.ext,
	   (unsigned long long)p.max_size);
}

/* --- the DATA encoder --- */

/* in through the encoder in blocks of chunk bytes (0: at once); the wire
 * text, its SIZE in *size. */
static char *encode(const char *in, size_t n, size_t chunk, uint64_t *size, struct mf_smtp_enc *ce)
{
	struct mf_smtp_enc e, c;
	struct mf_buf b = { 0 };
	char *out = malloc(MF_SMTP_ENC_OUT(n + 1));
	size_t off, k;

	mf_smtp_enc_init(&e);
	mf_smtp_enc_init(&c);
	for (off = 0; off < n; off += k) {
		k = chunk && n - off > chunk ? chunk : n - off;
		mf_buf_add(&b, out, mf_smtp_enc_block(&e, in + off, k, out));
		mf_smtp_enc_block(&c, in + off, k, NULL);
	}
	mf_buf_add(&b, out, mf_smtp_enc_end(&e, out));
	mf_smtp_enc_end(&c, NULL);
	free(out);
	*size = e.size;
	if (c.size != e.size)
		tap_diag("counting gave %llu, writing %llu", (unsigned long long)c.size,
			 (unsigned long long)e.size);
	if (ce)
		*ce = c;
	mf_buf_add(&b, "", 1);
	return mf_buf_detach(&b);
}

/* Wire rules: CR only before LF, LF only after CR, no NUL, lines <= 998, no
 * "CRLF.CRLF" before the end; SIZE = bytes minus stuffing dots and ".CRLF". */
static int wire_ok(const char *w, size_t n, uint64_t size)
{
	size_t i, line = 0, dots = 0;

	if (n < 3 || memcmp(w + n - 3, ".\r\n", 3) || (n > 3 && memcmp(w + n - 5, "\r\n", 2)))
		return 0;
	for (i = 0; i + 3 < n; i++) {
		if (w[i] == '\0' || (w[i] == '\r' && w[i + 1] != '\n') ||
		    (w[i] == '\n' && (!i || w[i - 1] != '\r')))
			return 0;
		if (w[i] == '.' && (!i || w[i - 1] == '\n')) {
			if (w[i + 1] != '.')
				return 0;      /* an unstuffed dot at a line start */
			dots++;
		}
		line = w[i] == '\n' ? 0 : w[i] == '\r' ? line : line + 1;
		if (line > MF_SMTP_WIRE_LINE)
			return 0;
	}
	return size == n - 3 - dots;
}

static void enc_case(const char *name, const char *in, size_t n, const char *want)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7, 64 };
	uint64_t size;
	char *w0 = encode(in, n, 0, &size, NULL), *w;
	size_t i;
	int same = 1;

	for (i = 1; i < sizeof chunks / sizeof *chunks; i++) {
		w = encode(in, n, chunks[i], &size, NULL);
		same &= !strcmp(w, w0);
		free(w);
	}
	ok(!strcmp(w0, want) && same && wire_ok(w0, strlen(w0), size),
	   "encoder: %s", name);
	if (strcmp(w0, want))
		tap_diag("got %s", w0);
	free(w0);
}

static void test_encoder(void)
{
	struct mf_smtp_enc c;
	struct mf_buf in = { 0 }, want = { 0 };
	uint64_t size;
	unsigned seed = 6;
	char *w;
	int i, j, good = 1;

	enc_case("LF to CRLF", "a\nb\n", 4, "a\r\nb\r\n.\r\n");
	enc_case("CRLF kept", "a\r\nb\r\n", 6, "a\r\nb\r\n.\r\n");
	enc_case("last line ended", "a\nb", 3, "a\r\nb\r\n.\r\n");
	enc_case("empty message", "", 0, ".\r\n");
	enc_case("bare CR is a line end", "a\rb\n", 4, "a\r\nb\r\n.\r\n");
	enc_case("CR at the very end", "a\r", 2, "a\r\n.\r\n");
	enc_case("<CR>.<CR> cannot end the data", "x\r.\rMAIL\r\n", 10,
		 "x\r\n..\r\nMAIL\r\n.\r\n");
	enc_case("<LF>.<LF> neither", "x\n.\nMAIL\n", 9, "x\r\n..\r\nMAIL\r\n.\r\n");
	enc_case("<CR><LF>.<CR><LF> stuffed", "x\r\n.\r\ny\r\n", 9, "x\r\n..\r\ny\r\n.\r\n");
	enc_case("a dot line first", ".\n", 2, "..\r\n.\r\n");
	enc_case("NUL removed", "a\0b\0\n\0", 6, "ab\r\n.\r\n");
	enc_case("CR NUL LF: two line ends", "a\r\0\nb", 6, "a\r\n\r\nb\r\n.\r\n");

	/* folding: header with CRLF SPACE, body with CRLF, dots after a fold stuffed */
	mf_buf_adds(&in, "X-H: ");
	mf_buf_adds(&want, "X-H: ");
	for (i = 0; i < 1200; i++)
		mf_buf_adds(&in, "h");
	for (i = 0; i < 993; i++)
		mf_buf_adds(&want, "h");
	mf_buf_adds(&want, "\r\n ");
	for (i = 0; i < 207; i++)
		mf_buf_adds(&want, "h");
	mf_buf_adds(&in, "\n\n");
	mf_buf_adds(&want, "\r\n\r\n");
	for (i = 0; i < 998; i++) {
		mf_buf_adds(&in, "b");
		mf_buf_adds(&want, "b");
	}
	mf_buf_adds(&in, ".b\n");
	mf_buf_adds(&want, "\r\n..b\r\n");
	for (i = 0; i < 998; i++) {
		mf_buf_adds(&in, "c");
		mf_buf_adds(&want, "c");
	}
	mf_buf_adds(&in, "\n");
	mf_buf_adds(&want, "\r\n.\r\n");
	mf_buf_add(&want, "", 1);
	enc_case("lines over 998 folded, 998 kept", in.data, in.len, want.data);
	w = encode(in.data, in.len, 0, &size, &c);
	ok(c.folds == 2 && c.nuls == 0 && c.bare_crs == 0 && !c.eight_bit,
	   "encoder: folds counted (%llu)", (unsigned long long)c.folds);
	free(w);
	mf_buf_reset(&in);
	mf_buf_adds(&in, "\n\xc3\xa9\r\r\0");
	w = encode(in.data, 6, 0, &size, &c);
	ok(c.eight_bit && c.bare_crs == 2 && c.nuls == 1, "encoder: 8 bit, bare CRs, NULs counted");
	free(w);

	/* random messages of the dangerous bytes: the wire rules always hold */
	for (j = 0; j < 300 && good; j++) {
		mf_buf_reset(&in);
		for (i = rand_r(&seed) % 3000; i > 0; i--)
			mf_buf_add(&in, &"..\r\n\0a \x80"[rand_r(&seed) % 8], 1);
		if (rand_r(&seed) % 4 == 0)
			for (i = 0; i < 2100; i++)
				mf_buf_add(&in, &"ab."[rand_r(&seed) % 3], 1);
		w = encode(in.data ? in.data : "", in.len, 1 + (size_t)(rand_r(&seed) % 100), &size, NULL);
		good = wire_ok(w, strlen(w), size);
		free(w);
	}
	ok(good, "encoder: 300 random messages keep the wire rules (%d)", j);
	mf_buf_free(&in);
	mf_buf_free(&want);
}

int main(void)
{
	const char *cp = getenv("MF_CLOSED_PORT");

	mf_log_open("smtp-test", MF_LOG_OFF, getenv("MF_DEBUG") ? LOG_DEBUG : MF_LOG_OFF);
	sink_env(&plain, "plain", "SINK");
	sink_env(&lmtp, "lmtp", "LMTP");
	sink_env(&tls, "tls", "TLS");
	sink_env(&authsink, "auth", "AUTH");
	closed_port = cp ? atoi(cp) : 0;
	cert = getenv("MF_TLS_CERT");
	if (!plain.port || !lmtp.port || !tls.port || !authsink.port || !closed_port || !cert) {
		tap_plan(N_OFFLINE);
		test_parser();
		test_encoder();
		tap_diag("the rest runs through t/0010-lib-smtp.t (sinks not given)");
		return tap_done();
	}
	snprintf(tmp, sizeof tmp, "%s", tap_tmpdir());
	tap_plan(84 + N_OFFLINE);
	test_parser();
	test_encoder();
	test_plain();
	test_rcpt_replies("pipelined", "");
	test_rcpt_replies("one by one", "nopipelining\n");
	test_helo();
	test_refusals_and_reuse();
	test_lmtp();
	test_failures();
	test_tls();
	test_auth();
	test_8bit_and_big();
	return tap_done();
}
