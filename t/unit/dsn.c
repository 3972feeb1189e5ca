/* SPDX-License-Identifier: MIT */
/* Unit tests for delivery status notifications (mf_dsn_make), read back with GMime. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "mf_dsn.h"
#include "mf_envelope.h"
#include "mf_intake.h"
#include "mf_log.h"
#include "mf_spool.h"
#include "tap.h"
#include "util.h"

static struct mf_spool sp;
static char root[PATH_MAX];
static char outnew[PATH_MAX + 16];

static const char headers[] =
	"From: Sender <s@example.org>\n"
	"To: many@example.net\n"
	"Subject: quarterly figures\n"
	"Message-ID: <orig.1@example.org>\n";
static const char body[] = "the body marker 4711\n";

/* An entry in failed/ holding msg, claimed into *e; the envelope is env. */
static int make_entry(struct mf_envelope *env, const char *msg, struct mf_entry *e)
{
	char path[PATH_MAX];
	struct mf_intake_opts io = { 0 };
	struct mf_entry c;
	struct mf_err err;
	int fd;

	snprintf(path, sizeof path, "%s/input", tap_tmpdir());
	if (t_write_str(path, msg) < 0 || (fd = open(path, O_RDONLY)) < 0)
		return -1;
	if (mf_intake(&sp, "failed", fd, env, &io, &c, &err) != MF_OK) {
		tap_diag("intake: %s", err.msg);
		close(fd);
		return -1;
	}
	close(fd);
	if (mf_entry_claim(&sp, "failed", c.id, e, &err) != MF_OK) {
		tap_diag("claim: %s", err.msg);
		return -1;
	}
	return 0;
}

static void add_rcpt(struct mf_envelope *env, const char *addr, enum mf_rcpt_state st,
		     const char *reply, const char *remote)
{
	struct mf_rcpt *r;

	mf_envelope_add_rcpt(env, addr);
	r = &env->rcpts[env->nrcpts - 1];
	r->state = st;
	r->attempts = 1;
	r->last_attempt = 1795430000;
	mf_envelope_set(&r->reply, reply);
	mf_envelope_set(&r->remote, remote);
}

/* The five recipients most tests use. */
static void standard_env(struct mf_envelope *env, const char *sender)
{
	mf_envelope_init(env);
	mf_envelope_set(&env->sender, sender);
	env->arrival = 1795420000;
	add_rcpt(env, "bad1@example.net", MF_RCPT_FAILED, "550 5.1.1 no such user",
		 "mx1.example.net");
	add_rcpt(env, "ok@example.net", MF_RCPT_DELIVERED, "250 2.0.0 Ok", "mx1.example.net");
	add_rcpt(env, "later@example.net", MF_RCPT_DEFERRED, "451 4.7.1 try later",
		 "mx2.example.net");
	add_rcpt(env, "bad2@example.net", MF_RCPT_FAILED, "connect: Connection refused", NULL);
	add_rcpt(env, "expired@example.net", MF_RCPT_FAILED, "421 4.4.2 timeout", NULL);
}

static GMimeMessage *parse_file(const char *path)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *m;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	s = g_mime_stream_fs_new(fd);
	p = g_mime_parser_new_with_stream(s);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	return m;
}

/* The decoded content of a leaf part, malloc'ed. */
static char *part_text(GMimeObject *o)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *a;
	char *t;

	if (GMIME_IS_PART(o))
		g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(o)), s);
	else
		g_mime_object_write_to_stream(o, NULL, s);
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	t = strndup((const char *)a->data, a->len);
	g_object_unref(s);
	return t;
}

/* The value of "Name: value" in a block of lines, malloc'ed, or NULL. */
static char *field(const char *block, const char *name)
{
	size_t n = strlen(name);
	const char *p = block, *e;

	while (p && *p) {
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			e = strchr(p, '\n');
			return strndup(p, e ? (size_t)(e - p) : strlen(p));
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static void is_field(const char *block, const char *name, const char *want, const char *label)
{
	char *v = field(block, name);
	char n[200];

	snprintf(n, sizeof n, "%s: %s", label, name);
	is_str(v, want, n);
	free(v);
}

/* Split a delivery-status body into its blank-line-separated groups. */
static int groups(char *text, char **g, int max)
{
	int n = 0;
	char *p = text, *q;

	while (*p && n < max) {
		while (*p == '\n')
			p++;
		if (!*p)
			break;
		g[n++] = p;
		q = strstr(p, "\n\n");
		if (!q)
			break;
		q[1] = '\0';
		p = q + 2;
	}
	return n;
}

struct dsn {
	GMimeMessage *m;
	GMimeObject *part[3];
	int nparts;
	char *text, *status, *third;
};

static int read_dsn(const struct mf_entry *e, struct dsn *d)
{
	char path[PATH_MAX + 16];
	GMimeObject *top;
	int i;

	memset(d, 0, sizeof *d);
	snprintf(path, sizeof path, "%s/message", e->path);
	if (!(d->m = parse_file(path)))
		return -1;
	top = g_mime_message_get_mime_part(d->m);
	if (!GMIME_IS_MULTIPART(top))
		return -1;
	d->nparts = g_mime_multipart_get_count(GMIME_MULTIPART(top));
	for (i = 0; i < 3 && i < d->nparts; i++)
		d->part[i] = g_mime_multipart_get_part(GMIME_MULTIPART(top), i);
	if (d->nparts >= 3) {
		d->text = part_text(d->part[0]);
		d->status = part_text(d->part[1]);
		d->third = part_text(d->part[2]);
	}
	return 0;
}

static void free_dsn(struct dsn *d)
{
	if (d->m)
		g_object_unref(d->m);
	free(d->text);
	free(d->status);
	free(d->third);
}

static int is_type(GMimeObject *o, const char *type, const char *sub)
{
	return o && g_mime_content_type_is_type(g_mime_object_get_content_type(o), type, sub);
}

static void check_group(const char *g, const char *addr, const char *action,
			const char *status, const char *remote, const char *diag)
{
	char want[200];

	snprintf(want, sizeof want, "rfc822; %s", addr);
	is_field(g, "Final-Recipient", want, addr);
	is_field(g, "Action", action, addr);
	is_field(g, "Status", status, addr);
	is_field(g, "Remote-MTA", remote, addr);
	is_field(g, "Diagnostic-Code", diag, addr);
	is_field(g, "Last-Attempt-Date", "Mon, 23 Nov 2026 10:33:20 +0000", addr);
}

static void test_failed(void)
{
	struct mf_dsn_opts o = { "test.mta", NULL, 0, 0, NULL, NULL };
	struct mf_envelope env, de;
	struct mf_entry e, dsn, de_e;
	struct mf_err err;
	struct dsn d;
	char msg[1024], *g[8], *v;
	GDateTime *dt;
	int n;

	standard_env(&env, "s@example.org");
	snprintf(msg, sizeof msg, "%s\n%s", headers, body);
	if (make_entry(&env, msg, &e) < 0) {
		ok(0, "make the entry");
		return;
	}
	is_int(mf_dsn_make(&sp, &e, &env, &o, &dsn, &err), MF_OK, "failed: DSN made");
	ok(!strncmp(dsn.path, outnew, strlen(outnew)), "failed: DSN committed in out/new (%s)",
	   dsn.path);
	ok(read_dsn(&dsn, &d) == 0, "failed: DSN parses as a multipart");
	{
		GMimeObject *top = g_mime_message_get_mime_part(d.m);
		GMimeContentType *ct = top ? g_mime_object_get_content_type(top) : NULL;

		ok(is_type(top, "multipart", "report"), "failed: multipart/report");
		is_str(ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL,
		       "delivery-status", "failed: report-type=delivery-status");
	}
	is_int(d.nparts, 3, "failed: three parts");
	ok(is_type(d.part[0], "text", "plain"), "failed: part 1 text/plain");
	ok(is_type(d.part[1], "message", "delivery-status"), "failed: part 2 message/delivery-status");
	ok(is_type(d.part[2], "text", "rfc822-headers"), "failed: part 3 text/rfc822-headers");
	is_str(g_mime_object_get_header(GMIME_OBJECT(d.m), "Auto-Submitted"), "auto-replied",
	       "failed: Auto-Submitted");
	is_str(g_mime_message_get_subject(d.m), "Undelivered Mail Returned to Sender",
	       "failed: Subject");
	is_str(g_mime_object_get_header(GMIME_OBJECT(d.m), "MIME-Version"), "1.0",
	       "failed: MIME-Version");
	v = internet_address_list_to_string(g_mime_message_get_from(d.m), NULL, FALSE);
	is_str(v, "Mail Delivery System <MAILER-DAEMON@test.mta>", "failed: From");
	g_free(v);
	v = internet_address_list_to_string(g_mime_message_get_to(d.m), NULL, FALSE);
	is_str(v, "s@example.org", "failed: To is the original sender");
	g_free(v);
	v = (char *)g_mime_message_get_message_id(d.m);
	ok(v && strlen(v) > 10 && !strcmp(v + strlen(v) - 9, "@test.mta"),
	   "failed: Message-ID @reporting_mta (%s)", v ? v : "none");
	dt = g_mime_message_get_date(d.m);
	ok(dt && llabs(g_date_time_to_unix(dt) - time(NULL)) < 60, "failed: Date is now");

	ok(d.text && strstr(d.text, "<bad1@example.net>: host mx1.example.net said: "
				    "550 5.1.1 no such user\n"),
	   "failed: human part lists the recipient with its reply");
	ok(d.text && strstr(d.text, "<bad2@example.net>: connect: Connection refused\n") &&
	   !strstr(d.text, "later@") && !strstr(d.text, "ok@") && strstr(d.text, "s@example.org") &&
	   strstr(d.text, env.id),
	   "failed: only failed recipients; sender and id in the text");

	n = d.status ? groups(d.status, g, 8) : 0;
	is_int(n, 4, "failed: per-message group + 3 recipient groups");
	if (n == 4) {
		is_field(g[0], "Reporting-MTA", "dns; test.mta", "per-message");
		v = field(g[0], "Arrival-Date");
		dt = v ? g_mime_utils_header_decode_date(v) : NULL;
		ok(dt && g_date_time_to_unix(dt) == 1795420000, "Arrival-Date parses to the arrival");
		if (dt)
			g_date_time_unref(dt);
		free(v);
		check_group(g[1], "bad1@example.net", "failed", "5.1.1", "dns; mx1.example.net",
			    "smtp; 550 5.1.1 no such user");
		check_group(g[2], "bad2@example.net", "failed", "5.0.0", NULL,
			    "X-mf; connect: Connection refused");
		check_group(g[3], "expired@example.net", "failed", "5.4.2", NULL,
			    "smtp; 421 4.4.2 timeout");
	} else {
		tap_diag("delivery-status: %s", d.status ? d.status : "(none)");
	}
	is_str(d.third, headers, "failed: text/rfc822-headers is the header block");
	ok(d.third && !strstr(d.third, "4711"), "failed: no body in the headers part");

	ok(env.rcpts[0].notified == MF_NOTIFIED_FAILED && env.rcpts[3].notified == MF_NOTIFIED_FAILED &&
	   env.rcpts[4].notified == MF_NOTIFIED_FAILED, "failed: notified bits set");
	ok(env.rcpts[1].notified == 0 && env.rcpts[2].notified == 0,
	   "failed: delivered and deferred not marked");

	mf_envelope_init(&de);
	if (mf_entry_open(&sp, "out", "new", dsn.id, &de_e, &err) == MF_OK &&
	    mf_entry_read_envelope(&de_e, &de, &err) == MF_OK) {
		is_str(de.sender, "", "DSN envelope: null sender");
		ok(de.nrcpts == 1 && !strcmp(de.rcpts[0].addr, "s@example.org") &&
		   de.rcpts[0].state == MF_RCPT_PENDING, "DSN envelope: one recipient, the sender");
		ok(de.size > 0 && (int64_t)de.size == mf_entry_message_size(&de_e),
		   "DSN envelope: size of its message");
		is_str(de.id, dsn.id, "DSN envelope: its own id");
		mf_entry_close(&de_e);
	} else {
		ok(0, "DSN envelope readable: %s", err.msg);
	}
	mf_envelope_free(&de);
	free_dsn(&d);

	n = t_count_dir(outnew);
	is_int(mf_dsn_make(&sp, &e, &env, &o, &dsn, &err), MF_ENOENT, "second call: no double DSN");
	ok(!strncmp(err.msg, "nothing to report: ", 19), "second call: %s", err.msg);
	is_int(t_count_dir(outnew), n, "second call: no new entry");

	/* --delayed: the deferred recipient now, and only once. */
	o.delayed = 1;
	is_int(mf_dsn_make(&sp, &e, &env, &o, &dsn, &err), MF_OK, "delayed: DSN made");
	if (read_dsn(&dsn, &d) == 0) {
		is_str(g_mime_message_get_subject(d.m), "Delayed Mail (still being retried)",
		       "delayed: Subject");
		n = d.status ? groups(d.status, g, 8) : 0;
		is_int(n, 2, "delayed: one recipient group");
		if (n == 2)
			check_group(g[1], "later@example.net", "delayed", "4.7.1",
				    "dns; mx2.example.net", "smtp; 451 4.7.1 try later");
		ok(d.text && strstr(d.text, "<later@example.net>") && !strstr(d.text, "bad1@"),
		   "delayed: human part names the deferred recipient");
		ok(d.text && strstr(d.text, "only a warning"), "delayed: the delayed template");
	} else {
		ok(0, "delayed: DSN parses");
	}
	free_dsn(&d);
	is_int(env.rcpts[2].notified, MF_NOTIFIED_DELAYED, "delayed: notified delayed");
	is_int(mf_dsn_make(&sp, &e, &env, &o, &dsn, &err), MF_ENOENT, "delayed: warned once");
	mf_entry_close(&e);
	mf_envelope_free(&env);
}

/* Returns the status; *made counts new out/ entries. */
static enum mf_status try_input(const char *sender, const char *msg, int *made,
				struct mf_err *err)
{
	struct mf_dsn_opts o = { "test.mta", NULL, 0, 0, NULL, NULL };
	struct mf_envelope env;
	struct mf_entry e, dsn;
	enum mf_status st = MF_EINTERNAL;
	int before = t_count_dir(outnew);

	standard_env(&env, sender);
	if (make_entry(&env, msg, &e) == 0) {
		st = mf_dsn_make(&sp, &e, &env, &o, &dsn, err);
		mf_entry_close(&e);
	}
	*made = t_count_dir(outnew) - before;
	mf_envelope_free(&env);
	return st;
}

static void test_refusals(void)
{
	struct mf_err err;
	int made;

	is_int(try_input("", "Subject: x\n\nbody\n", &made, &err), MF_ENOENT, "null sender: no DSN");
	ok(made == 0 && strstr(err.msg, "null sender"), "null sender: nothing written (%s)", err.msg);
	is_int(try_input("s@example.org",
			 "From: MAILER-DAEMON@x\nMIME-Version: 1.0\nContent-Type: multipart/report;\n"
			 "\treport-type=\"Delivery-Status\"; boundary=b\n\n--b--\n", &made, &err),
	       MF_ENOENT, "a DSN as input: no DSN");
	ok(made == 0 && strstr(err.msg, "delivery status"), "a DSN: nothing written (%s)", err.msg);
	is_int(try_input("s@example.org", "Auto-Submitted: auto-generated\nSubject: x\n\nb\n",
			 &made, &err), MF_ENOENT, "Auto-Submitted: auto-generated: no DSN");
	is_int(made, 0, "auto-submitted: nothing written");
	is_int(try_input("s@example.org", "Auto-Submitted: No (comment)\nSubject: x\n\nb\n",
			 &made, &err), MF_OK, "Auto-Submitted: no: DSN made");
	is_int(try_input("s@example.org",
			 "Content-Type: multipart/report; report-type=disposition-notification;"
			 " boundary=b\n\n--b--\n", &made, &err), MF_OK,
	       "an MDN is not a DSN: DSN made");
	is_int(try_input("s@example.org", "\nbody without headers\n", &made, &err), MF_OK,
	       "a message without headers: DSN made");
}

static void test_none(void)
{
	struct mf_dsn_opts o = { "test.mta", NULL, 0, 0, NULL, NULL };
	struct mf_envelope env;
	struct mf_entry e, dsn;
	struct mf_err err;

	mf_envelope_init(&env);
	mf_envelope_set(&env.sender, "s@example.org");
	add_rcpt(&env, "ok@example.net", MF_RCPT_DELIVERED, "250 ok", NULL);
	add_rcpt(&env, "later@example.net", MF_RCPT_DEFERRED, "451 later", NULL);
	if (make_entry(&env, "Subject: x\n\nb\n", &e) == 0) {
		is_int(mf_dsn_make(&sp, &e, &env, &o, &dsn, &err), MF_ENOENT,
		       "no failed recipient: no DSN");
		ok(!strncmp(err.msg, "nothing to report: ", 19), "no failed recipient: %s", err.msg);
		mf_entry_close(&e);
	}
	mf_envelope_free(&env);
}

static void test_full_and_template(void)
{
	struct mf_dsn_opts o = { "test.mta", "postmaster@test.mta", 0, 1, NULL, NULL };
	char dir[PATH_MAX], path[PATH_MAX + 32], msg[1024], *v;
	struct mf_envelope env;
	struct mf_entry e, dsn;
	struct mf_err err;
	struct dsn d;
	GMimeObject *inner;

	snprintf(dir, sizeof dir, "%s/share", tap_tmpdir());
	mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/dsn-failed.txt", dir);
	t_write_str(path, "To %{sender} from %{reporting_mta} about %{id} (%{subject}):\n"
			  "%{recipients}100%% %{nosuch} %x\n");
	o.template_dir = dir;
	standard_env(&env, "s@example.org");
	snprintf(msg, sizeof msg, "%s\n%s", headers, body);
	if (make_entry(&env, msg, &e) < 0 || mf_dsn_make(&sp, &e, &env, &o, &dsn, &err) != MF_OK ||
	    read_dsn(&dsn, &d) < 0) {
		ok(0, "full: DSN made");
		return;
	}
	ok(is_type(d.part[2], "message", "rfc822"), "full: part 3 is message/rfc822");
	inner = d.part[2] && GMIME_IS_MESSAGE_PART(d.part[2])
		? GMIME_OBJECT(g_mime_message_part_get_message(GMIME_MESSAGE_PART(d.part[2]))) : NULL;
	ok(inner && !strcmp(g_mime_message_get_subject(GMIME_MESSAGE(inner)), "quarterly figures"),
	   "full: the original message is attached");
	ok(d.third && strstr(d.third, "the body marker 4711"), "full: with its body");
	v = internet_address_list_to_string(g_mime_message_get_from(d.m), NULL, FALSE);
	is_str(v, "postmaster@test.mta", "From option used");
	g_free(v);
	snprintf(msg, sizeof msg,
		 "To s@example.org from test.mta about %s (quarterly figures):\n"
		 "<bad1@example.net>: host mx1.example.net said: 550 5.1.1 no such user\n"
		 "<bad2@example.net>: connect: Connection refused\n"
		 "<expired@example.net>: 421 4.4.2 timeout\n"
		 "100%% %%{nosuch} %%x\n", env.id);
	is_str(d.text, msg, "template: every variable expanded, unknown ones kept");
	free_dsn(&d);
	mf_entry_close(&e);
	mf_envelope_free(&env);

	/* A missing template file falls back to the built-in text. */
	o.template_dir = "/nonexistent";
	o.full = 0;
	standard_env(&env, "s@example.org");
	if (make_entry(&env, msg, &e) == 0 && mf_dsn_make(&sp, &e, &env, &o, &dsn, &err) == MF_OK &&
	    read_dsn(&dsn, &d) == 0) {
		ok(d.text && strstr(d.text, "could not\nbe delivered"), "missing template: built-in text");
		free_dsn(&d);
	} else {
		ok(0, "missing template: DSN made");
	}
	mf_entry_close(&e);
	mf_envelope_free(&env);
}

int main(void)
{
	struct mf_err err;

	mf_log_open("t/dsn", MF_LOG_OFF, LOG_ERR);
	umask(077);
	g_mime_init();
	snprintf(root, sizeof root, "%s/spool", tap_tmpdir());
	snprintf(outnew, sizeof outnew, "%s/out/new", root);
	mkdir(root, 0700);
	tap_plan(80);
	if (mf_spool_open(root, "test.host", &sp, &err) != MF_OK ||
	    mf_queue_init(&sp, "out", &err) != MF_OK) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	test_failed();
	test_refusals();
	test_none();
	test_full_and_template();
	mf_spool_close(&sp);
	g_mime_shutdown();
	return tap_done();
}
