/* SPDX-License-Identifier: MIT */
/* Delivery status notifications (RFC 3464, RFC 6522) built with GMime. */
#include "mf_dsn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "mf_buf.h"
#include "mf_log.h"

#define HEADER_MAX (1u << 20)    /* original header block kept at most */
#define TEMPLATE_MAX (64u << 10) /* a template file read at most */
#define VALUE_MAX 900            /* a reply or host put on one DSN line */

static const char builtin_failed[] =
	"This is the mail system at host %{reporting_mta}.\n"
	"\n"
	"I'm sorry to have to inform you that your message could not\n"
	"be delivered to one or more recipients. It's attached below.\n"
	"\n"
	"The message (id %{id}) from <%{sender}>, received on\n"
	"%{arrival_date}, was not delivered to:\n"
	"\n"
	"%{recipients}"
	"\n"
	"No further attempts will be made for these recipients.\n";

static const char builtin_delayed[] =
	"This is the mail system at host %{reporting_mta}.\n"
	"\n"
	"This is only a warning: you do not need to send your message again.\n"
	"\n"
	"The message (id %{id}) from <%{sender}>, received on\n"
	"%{arrival_date}, could not be delivered yet to:\n"
	"\n"
	"%{recipients}"
	"\n"
	"Delivery will be retried until it succeeds or is given up; you will\n"
	"be told if it fails.\n";

/* What one report says: the recipients chosen, and the original's facts. */
struct report {
	const struct mf_envelope *env;
	const struct mf_dsn_opts *o;
	const char *mta;          /* o->reporting_mta, or "localhost" */
	unsigned char *action;    /* per recipient: 0, MF_NOTIFIED_FAILED/DELAYED */
	size_t nfailed, ndelayed;
	char arrival[40];
	char now[40];
	char *subject;            /* original Subject (decoded), NULL when none */
	struct mf_buf headers;    /* original header block */
};

static void gmime_init_once(void)
{
	static int done;

	if (!done) {
		g_mime_init();
		done = 1;
	}
}

/* RFC 5322 date in UTC; the names are fixed, not the locale's. */
static void rfc5322_date(time_t t, char out[40])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
}

/* s made fit for one DSN line: printable ASCII only, at most VALUE_MAX bytes. */
static int add_clean(struct mf_buf *b, const char *s)
{
	char tmp[VALUE_MAX + 1];
	size_t i;

	for (i = 0; s[i] && i < VALUE_MAX; i++)
		tmp[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	tmp[i] = '\0';
	return mf_buf_adds(b, tmp);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The length of an RFC 3463 code "C.SSS.DDD" at s, or 0. */
static size_t enhanced_len(const char *s)
{
	size_t i = 0, n;
	int part;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	i = 1;
	for (part = 0; part < 2; part++) {
		if (s[i++] != '.')
			return 0;
		for (n = 0; is_digit(s[i]) && n < 3; n++)
			i++;
		if (!n)
			return 0;
	}
	return is_digit(s[i]) ? 0 : i;
}

/* Whether reply starts with an SMTP reply code ("550 ..." or "550-..."). */
static int smtp_reply(const char *reply)
{
	return reply && reply[0] >= '2' && reply[0] <= '5' && is_digit(reply[1]) &&
	       is_digit(reply[2]) && (reply[3] == ' ' || reply[3] == '-' || !reply[3]);
}

/*
 * Status: the reply's enhanced code when it has one, with its class made to
 * agree with the action (a recipient given up after 4.4.1 replies is
 * reported 5.4.1); else X.0.0 from the reply's basic code's class or the action.
 */
static void rcpt_status(const struct mf_rcpt *r, int failed, char out[16])
{
	const char *p = r->reply;
	char cls = failed ? '5' : '4';
	size_t n;

	if (smtp_reply(p)) {
		p += 3;
		while (*p == ' ' || *p == '-')
			p++;
		if ((n = enhanced_len(p)) && n < 15) {
			memcpy(out, p, n);
			out[n] = '\0';
			out[0] = cls;
			return;
		}
	}
	snprintf(out, 16, "%c.0.0", cls);
}

static int add_rcpt_group(struct mf_buf *b, const struct mf_rcpt *r, int failed)
{
	char status[16], date[40];

	rcpt_status(r, failed, status);
	if (mf_buf_adds(b, "\nFinal-Recipient: rfc822; ") < 0 || add_clean(b, r->addr) < 0 ||
	    mf_buf_addf(b, "\nAction: %s\nStatus: %s\n", failed ? "failed" : "delayed",
			status) < 0)
		return -1;
	if (r->remote && r->remote[0] &&
	    (mf_buf_adds(b, "Remote-MTA: dns; ") < 0 || add_clean(b, r->remote) < 0 ||
	     mf_buf_adds(b, "\n") < 0))
		return -1;
	if (r->reply && r->reply[0] &&
	    (mf_buf_adds(b, smtp_reply(r->reply) ? "Diagnostic-Code: smtp; "
						  : "Diagnostic-Code: X-mf; ") < 0 ||
	     add_clean(b, r->reply) < 0 || mf_buf_adds(b, "\n") < 0))
		return -1;
	if (r->last_attempt) {
		rfc5322_date(r->last_attempt, date);
		if (mf_buf_addf(b, "Last-Attempt-Date: %s\n", date) < 0)
			return -1;
	}
	return 0;
}

static int delivery_status(const struct report *rp, struct mf_buf *b)
{
	const struct mf_envelope *env = rp->env;
	size_t i;

	if (mf_buf_adds(b, "Reporting-MTA: dns; ") < 0 ||
	    add_clean(b, rp->mta) < 0 ||
	    mf_buf_addf(b, "\nArrival-Date: %s\n", rp->arrival) < 0)
		return -1;
	for (i = 0; i < env->nrcpts; i++)
		if (rp->action[i] &&
		    add_rcpt_group(b, &env->rcpts[i], rp->action[i] == MF_NOTIFIED_FAILED) < 0)
			return -1;
	return 0;
}

/* The %{recipients} list: one "<addr>: host H said: REPLY" line each. */
static int recipient_lines(const struct report *rp, unsigned kind, struct mf_buf *b)
{
	const struct mf_rcpt *r;
	size_t i;
	int rc = 0;

	for (i = 0; i < rp->env->nrcpts && rc == 0; i++) {
		if (rp->action[i] != kind)
			continue;
		r = &rp->env->rcpts[i];
		rc = mf_buf_addf(b, "<%s>", r->addr);
		if (rc == 0 && r->reply && r->reply[0])
			rc = mf_buf_addf(b, ": %s%s%s%s", r->remote ? "host " : "",
					 r->remote ? r->remote : "", r->remote ? " said: " : "",
					 r->reply);
		if (rc == 0)
			rc = mf_buf_adds(b, "\n");
	}
	return rc;
}

/* Read DIR/NAME (at most TEMPLATE_MAX bytes) into b; -1 when there is none. */
static int read_template(const char *dir, const char *name, struct mf_buf *b)
{
	char path[MF_DSN_TEMPLATE_DIR_MAX + 32];
	char chunk[4096];
	ssize_t r;
	int fd;

	if (!dir || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			mf_log(LOG_WARNING, "%s: %s; using the built-in text", path,
			       strerror(errno));
		return -1;
	}
	while (b->len < TEMPLATE_MAX && (r = read(fd, chunk, sizeof chunk)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || mf_buf_add(b, chunk, (size_t)r) < 0) {
			mf_log(LOG_WARNING, "%s: cannot read; using the built-in text", path);
			close(fd);
			mf_buf_free(b);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* The value of template variable name (len bytes) appended to b; 1 if unknown. */
static int expand_var(const struct report *rp, unsigned kind, const char *name,
		      size_t len, struct mf_buf *b)
{
#define IS(s) (len == sizeof s - 1 && !memcmp(name, s, len))
	if (IS("sender"))
		return mf_buf_adds(b, rp->env->sender);
	if (IS("recipients"))
		return recipient_lines(rp, kind, b);
	if (IS("reporting_mta"))
		return mf_buf_adds(b, rp->mta);
	if (IS("arrival_date"))
		return mf_buf_adds(b, rp->arrival);
	if (IS("date"))
		return mf_buf_adds(b, rp->now);
	if (IS("id"))
		return mf_buf_adds(b, rp->env->id ? rp->env->id : "");
	if (IS("subject"))
		return mf_buf_adds(b, rp->subject ? rp->subject : "");
#undef IS
	return 1;
}

/* Expand one template (the file, else the built-in text) into b. */
static int human_text(const struct report *rp, unsigned kind, struct mf_buf *b)
{
	const char *name = kind == MF_NOTIFIED_FAILED ? "dsn-failed.txt" : "dsn-delayed.txt";
	struct mf_buf file = { 0 };
	const char *t, *p, *end;
	int rc = 0;

	if (read_template(rp->o->template_dir, name, &file) == 0 && file.data)
		t = file.data;
	else
		t = kind == MF_NOTIFIED_FAILED ? builtin_failed : builtin_delayed;
	while (*t && rc >= 0) {
		p = strchr(t, '%');
		if (!p) {
			rc = mf_buf_adds(b, t);
			break;
		}
		rc = mf_buf_add(b, t, (size_t)(p - t));
		if (rc == 0 && p[1] == '%') {
			rc = mf_buf_adds(b, "%");
			t = p + 2;
		} else if (rc == 0 && p[1] == '{' && (end = strchr(p + 2, '}')) &&
			   (rc = expand_var(rp, kind, p + 2, (size_t)(end - p - 2), b)) <= 0) {
			t = end + 1;
		} else if (rc >= 0) {
			rc = mf_buf_adds(b, "%"); /* not a variable: kept as written */
			t = p + 1;
		}
	}
	mf_buf_free(&file);
	return rc < 0 ? -1 : 0;
}

/* Read the header block (up to the first empty line, at most HEADER_MAX). */
static enum mf_status read_headers(int fd, struct mf_buf *b, struct mf_err *err)
{
	char chunk[16384];
	size_t from = 0;
	const char *end;
	ssize_t r;

	if (mf_buf_grow(b, 1) < 0)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	for (;;) {
		if (b->len && b->data[0] == '\n') { /* no headers at all */
			b->len = 0;
			break;
		}
		if (b->len > from && (end = memmem(b->data + from, b->len - from, "\n\n", 2))) {
			b->len = (size_t)(end - b->data) + 1;
			break;
		}
		from = b->len ? b->len - 1 : 0;
		if (b->len >= HEADER_MAX) {
			end = memrchr(b->data, '\n', HEADER_MAX);
			b->len = end ? (size_t)(end - b->data) + 1 : 0;
			break;
		}
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mf_err_errno(err, errno, "read message");
		if (r == 0)
			break;
		if (mf_buf_add(b, chunk, (size_t)r) < 0)
			return mf_err_set(err, MF_ENOMEM, "out of memory");
	}
	b->data[b->len] = '\0';
	return MF_OK;
}

/* Why the original must not get a DSN (RFC 3464 §2, RFC 3834 §2), or NULL. */
static const char *no_dsn_reason(GMimeMessage *m)
{
	const char *v = g_mime_object_get_header(GMIME_OBJECT(m), "Auto-Submitted");
	GMimeObject *part = g_mime_message_get_mime_part(m);
	GMimeContentType *ct;
	const char *rt;
	size_t n;

	if (v) {
		while (*v == ' ' || *v == '\t')
			v++;
		n = strcspn(v, " \t;(");
		if (!(n == 2 && !strncasecmp(v, "no", 2)))
			return "the message is auto-submitted";
	}
	/* GMime keeps the Content-* headers with the message's MIME part. */
	ct = part ? g_mime_object_get_content_type(part) : NULL;
	if (!ct || !g_mime_content_type_is_type(ct, "multipart", "report"))
		return NULL;
	rt = g_mime_content_type_get_parameter(ct, "report-type");
	if (rt && !g_ascii_strcasecmp(rt, "delivery-status"))
		return "the message is a delivery status notification";
	return NULL;
}

/* Choose the recipients to report; 0 when there is none. */
static size_t choose(struct report *rp)
{
	const struct mf_rcpt *r;
	size_t i;

	for (i = 0; i < rp->env->nrcpts; i++) {
		r = &rp->env->rcpts[i];
		if (r->state == MF_RCPT_FAILED && !(r->notified & MF_NOTIFIED_FAILED)) {
			rp->action[i] = MF_NOTIFIED_FAILED;
			rp->nfailed++;
		} else if (rp->o->delayed && r->state == MF_RCPT_DEFERRED &&
			   !(r->notified & (MF_NOTIFIED_DELAYED | MF_NOTIFIED_FAILED))) {
			rp->action[i] = MF_NOTIFIED_DELAYED;
			rp->ndelayed++;
		}
	}
	return rp->nfailed + rp->ndelayed;
}

static GMimeObject *mem_part(const char *type, const char *subtype,
			     const char *data, size_t len)
{
	GMimePart *part = g_mime_part_new_with_type(type, subtype);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);

	g_mime_part_set_content(part, w);
	g_object_unref(w);
	g_object_unref(s);
	g_mime_part_set_content_encoding(part,
		g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT));
	return GMIME_OBJECT(part);
}

/* The original as message/rfc822, parsed from its file without loading the
 * body (GMime keeps seekable content on disk). */
static enum mf_status full_part(struct mf_entry *orig, GMimeObject **out,
				struct mf_err *err)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *m;
	enum mf_status st;
	int fd;

	if ((st = mf_entry_open_file(orig, "message", O_RDONLY, &fd, err)))
		return st;
	s = g_mime_stream_fs_new(fd); /* owns fd */
	p = g_mime_parser_new_with_stream(s);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	if (!m)
		return mf_err_set(err, MF_EDATA, "%s/message: cannot parse the message",
				  orig->path);
	*out = GMIME_OBJECT(g_mime_message_part_new_with_message("rfc822", m));
	g_object_unref(m);
	return MF_OK;
}

static enum mf_status build(struct report *rp, struct mf_entry *orig,
			    GMimeMessage **out, struct mf_err *err)
{
	const struct mf_dsn_opts *o = rp->o;
	struct mf_buf text = { 0 }, ds = { 0 };
	GMimeMultipart *mp;
	GMimeTextPart *tp;
	GMimeObject *third = NULL;
	GMimeMessage *m;
	enum mf_status st;
	char from[512];
	char *mid;

	if ((rp->nfailed && human_text(rp, MF_NOTIFIED_FAILED, &text) < 0) ||
	    (rp->nfailed && rp->ndelayed && mf_buf_adds(&text, "\n") < 0) ||
	    (rp->ndelayed && human_text(rp, MF_NOTIFIED_DELAYED, &text) < 0) ||
	    delivery_status(rp, &ds) < 0) {
		st = mf_err_set(err, MF_ENOMEM, "out of memory");
		goto done;
	}
	if (o->full)
		st = full_part(orig, &third, err);
	else {
		third = mem_part("text", "rfc822-headers", rp->headers.data ? rp->headers.data : "",
				 rp->headers.len);
		st = MF_OK;
	}
	if (st)
		goto done;
	snprintf(from, sizeof from, "MAILER-DAEMON@%s", rp->mta);
	m = g_mime_message_new(TRUE);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM,
				   o->from ? NULL : "Mail Delivery System",
				   o->from ? o->from : from);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, rp->env->sender);
	g_mime_message_set_subject(m, rp->nfailed ? "Undelivered Mail Returned to Sender"
						   : "Delayed Mail (still being retried)", NULL);
	g_mime_object_set_header(GMIME_OBJECT(m), "Date", rp->now, NULL);
	mid = g_mime_utils_generate_message_id(rp->mta);
	g_mime_message_set_message_id(m, mid);
	g_free(mid);
	g_mime_object_set_header(GMIME_OBJECT(m), "Auto-Submitted", "auto-replied", NULL);
	g_mime_object_set_header(GMIME_OBJECT(m), "MIME-Version", "1.0", NULL);

	mp = g_mime_multipart_new_with_subtype("report");
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(mp), "report-type",
						 "delivery-status");
	tp = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(tp, text.data ? text.data : "");
	g_mime_part_set_content_encoding(GMIME_PART(tp),
		g_mime_part_get_best_content_encoding(GMIME_PART(tp),
						      GMIME_ENCODING_CONSTRAINT_7BIT));
	g_mime_multipart_add(mp, GMIME_OBJECT(tp));
	g_object_unref(tp);
	{
		GMimeObject *dsp = mem_part("message", "delivery-status", ds.data, ds.len);
		g_mime_multipart_add(mp, dsp);
		g_object_unref(dsp);
	}
	g_mime_multipart_add(mp, third);
	g_object_unref(third);
	g_mime_message_set_mime_part(m, GMIME_OBJECT(mp));
	g_object_unref(mp);
	*out = m;
done:
	mf_buf_free(&text);
	mf_buf_free(&ds);
	return st;
}

/* Write m as the "message" of the tmp/ entry e; *size receives its bytes. */
static enum mf_status write_message(struct mf_entry *e, GMimeMessage *m,
				    uint64_t *size, struct mf_err *err)
{
	GMimeStream *fs, *bs;
	ssize_t n;
	int fd, rc, saved;
	int64_t sz;

	fd = mf_entry_create_file(e, "message"); /* synced and closed by the commit */
	if (fd < 0)
		return mf_err_errno(err, errno, "%s/message", e->path);
	fs = g_mime_stream_fs_new(fd);
	g_mime_stream_fs_set_owner(GMIME_STREAM_FS(fs), FALSE);
	bs = g_mime_stream_buffer_new(fs, GMIME_STREAM_BUFFER_BLOCK_WRITE);
	errno = 0;
	n = g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, bs);
	rc = n < 0 ? -1 : g_mime_stream_flush(bs);
	saved = errno ? errno : EIO;
	g_object_unref(bs);
	g_object_unref(fs);
	if (rc < 0)
		return mf_err_errno(err, saved, "write %s/message", e->path);
	if ((sz = mf_entry_message_size(e)) < 0)
		return mf_err_errno(err, errno, "%s/message", e->path);
	*size = (uint64_t)sz;
	return MF_OK;
}

/* The DSN's own envelope: null sender, the original sender as recipient. */
static enum mf_status write_envelope(struct mf_entry *e, const char *to,
				     uint64_t size, const char *sender_id,
				     struct mf_err *err)
{
	struct mf_envelope de;
	enum mf_status st;

	mf_envelope_init(&de);
	de.arrival = time(NULL);
	de.size = size;
	if (mf_envelope_set(&de.sender, "") < 0 || mf_envelope_set(&de.id, e->id) < 0 ||
	    mf_envelope_set(&de.receiver_id, sender_id) < 0 ||
	    mf_envelope_add_rcpt(&de, to) < 0)
		st = mf_err_set(err, MF_ENOMEM, "out of memory");
	else
		st = mf_entry_write_envelope(e, &de, err);
	mf_envelope_free(&de);
	return st;
}

/* Read the original's headers: for the report, its subject, and the checks. */
static enum mf_status original_headers(struct report *rp, struct mf_entry *orig,
				       struct mf_err *err)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *m;
	enum mf_status st;
	const char *why = NULL, *subj;
	int fd;

	if ((st = mf_entry_open_file(orig, "message", O_RDONLY, &fd, err)))
		return st;
	st = read_headers(fd, &rp->headers, err);
	close(fd);
	if (st)
		return st;
	/* Parse the header block alone (with its empty line) for the checks. */
	s = g_mime_stream_mem_new();
	g_mime_stream_write(s, rp->headers.data, rp->headers.len);
	g_mime_stream_write(s, "\n", 1);
	g_mime_stream_reset(s);
	p = g_mime_parser_new_with_stream(s);
	m = g_mime_parser_construct_message(p, NULL);
	if (m) {
		why = no_dsn_reason(m);
		if ((subj = g_mime_message_get_subject(m)))
			rp->subject = strdup(subj);
		g_object_unref(m);
	}
	g_object_unref(p);
	g_object_unref(s);
	if (why)
		return mf_err_set(err, MF_ENOENT, "nothing to report: %s", why);
	return MF_OK;
}

static enum mf_status make(struct report *rp, struct mf_spool *sp,
			   struct mf_entry *orig, struct mf_entry *dsn,
			   struct mf_err *err)
{
	GMimeMessage *m = NULL;
	enum mf_status st;
	uint64_t size = 0;

	if ((st = original_headers(rp, orig, err)) || (st = build(rp, orig, &m, err)))
		return st;
	if ((st = mf_entry_create(sp, "out", dsn, err))) {
		g_object_unref(m);
		return st;
	}
	if ((st = write_message(dsn, m, &size, err)) ||
	    (st = write_envelope(dsn, rp->env->sender, size, rp->o->sender_id, err)) ||
	    (st = mf_entry_commit(dsn, err)))
		mf_entry_abort(dsn);
	else
		mf_entry_close(dsn);
	g_object_unref(m);
	return st;
}

enum mf_status mf_dsn_make(struct mf_spool *sp, struct mf_entry *orig,
			   struct mf_envelope *env, const struct mf_dsn_opts *o,
			   struct mf_entry *dsn, struct mf_err *err)
{
	enum mf_status st;
	size_t i;
	struct report rp = { .env = env, .o = o };

	rp.mta = o->reporting_mta && o->reporting_mta[0] ? o->reporting_mta : "localhost";
	if (!env->sender || !env->sender[0])
		return mf_err_set(err, MF_ENOENT, "nothing to report: null sender");
	rp.action = calloc(env->nrcpts ? env->nrcpts : 1, 1);
	if (!rp.action)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	if (!choose(&rp)) {
		free(rp.action);
		return mf_err_set(err, MF_ENOENT, "nothing to report: no %s recipient left to notify",
				  o->delayed ? "failed or deferred" : "failed");
	}
	gmime_init_once();
	rfc5322_date(env->arrival, rp.arrival);
	rfc5322_date(time(NULL), rp.now);
	st = make(&rp, sp, orig, dsn, err);
	if (st == MF_OK)
		for (i = 0; i < env->nrcpts; i++)
			env->rcpts[i].notified |= rp.action[i];
	free(rp.action);
	free(rp.subject);
	mf_buf_free(&rp.headers);
	return st;
}
