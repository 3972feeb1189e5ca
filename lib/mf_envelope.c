/* SPDX-License-Identifier: MIT */
/* The envelope of a spool entry: text <-> struct (see mf-spool(5)). */
#include "mf_envelope.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mf_addr.h"
#include "mf_spool.h"
#include "mf_time.h"

static const char *const state_names[] = {
	[MF_RCPT_PENDING] = "pending",
	[MF_RCPT_DEFERRED] = "deferred",
	[MF_RCPT_DELIVERED] = "delivered",
	[MF_RCPT_FAILED] = "failed",
};

/* The keys of each block, in the one order the writer uses and the reader
 * takes; the first E_NREQ / R_NREQ are required. */
enum { E_VERSION, E_ID, E_ARRIVAL, E_SENDER, E_SIZE, E_CADDR, E_CHELO, E_RID, E_NKEYS };
enum { R_RECIPIENT, R_STATE, R_ATTEMPTS, R_LAST, R_NEXT, R_REPLY, R_ROUTE, R_REMOTE,
       R_NOTIFIED, R_NKEYS };
#define E_NREQ 5
#define R_NREQ 3

static const char *const entry_keys[E_NKEYS] = {
	"Version", "Id", "Arrival", "Sender", "Size",
	"Client-Address", "Client-Helo", "Receiver-Id",
};
static const char *const rcpt_keys[R_NKEYS] = {
	"Recipient", "State", "Attempts", "Last-Attempt", "Next-Attempt",
	"Last-Reply", "Route", "Remote-MTA", "Notified",
};
static const char *const notified_names[] = { NULL, "delayed", "failed", "delayed, failed" };

#define KEY_MAX 64

const char *mf_rcpt_state_name(enum mf_rcpt_state st)
{
	return (unsigned)st <= MF_RCPT_FAILED ? state_names[st] : "pending";
}

int mf_rcpt_state_parse(const char *s, enum mf_rcpt_state *st)
{
	unsigned i;

	for (i = 0; i <= MF_RCPT_FAILED; i++)
		if (!strcasecmp(s, state_names[i])) {
			*st = (enum mf_rcpt_state)i;
			return 0;
		}
	return -1;
}

void mf_envelope_init(struct mf_envelope *env)
{
	memset(env, 0, sizeof *env);
}

static void rcpt_free(struct mf_rcpt *r)
{
	free(r->addr);
	free(r->reply);
	free(r->route);
	free(r->remote);
	mf_buf_free(&r->extra);
}

void mf_envelope_free(struct mf_envelope *env)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++)
		rcpt_free(&env->rcpts[i]);
	free(env->rcpts);
	free(env->id);
	free(env->sender);
	free(env->client_addr);
	free(env->client_helo);
	free(env->receiver_id);
	mf_buf_free(&env->extra);
	mf_envelope_init(env);
}

int mf_envelope_set(char **field, const char *s)
{
	char *p = NULL;

	if (s && !(p = strdup(s)))
		return -1;
	free(*field);
	*field = p;
	return 0;
}

int mf_envelope_add_rcpt(struct mf_envelope *env, const char *addr)
{
	struct mf_rcpt *n = realloc(env->rcpts, (env->nrcpts + 1) * sizeof *n);

	if (!n)
		return -1;
	env->rcpts = n;
	memset(&n[env->nrcpts], 0, sizeof *n);
	if (!(n[env->nrcpts].addr = strdup(addr)))
		return -1;
	env->nrcpts++;
	return 0;
}

/* An address exactly as the intake would have stored it (no brackets). */
static int addr_ok(const char *a, int null_ok)
{
	char out[MF_ADDR_MAX + 1];
	size_t n = strlen(a);

	if (n > MF_ADDR_MAX)
		return 0;
	if (!n)
		return null_ok;
	return mf_addr_check(a, n, 0, out, NULL) == MF_OK && !strcmp(out, a);
}

static int id_ok(const char *id)
{
	const unsigned char *p;

	if (!mf_id_valid(id))
		return 0;
	for (p = (const unsigned char *)id; *p; p++)
		if (*p <= ' ' || *p == 127)
			return 0;
	return 1;
}

/* ---- writing ---- */

struct out {
	struct mf_buf *b;
	size_t lines;
	int rc;
};

static void put(struct out *o, const char *key, const char *open, const char *value,
		const char *close)
{
	if (!o->rc) {
		o->rc = mf_buf_addf(o->b, "%s: %s%s%s\n", key, open, value, close);
		o->lines++;
	}
}

/* Free text on one line: controls become spaces, and it is shortened (not
 * inside a UTF-8 sequence) so that the line fits MF_ENVELOPE_LINE_MAX. */
static void put_text(struct out *o, const char *key, const char *value)
{
	size_t max = MF_ENVELOPE_LINE_MAX - 3 - strlen(key), n = strlen(value), start;

	if (n > max) {
		n = max;
		while (n && ((unsigned char)value[n] & 0xC0) == 0x80)
			n--;
	}
	if (o->rc || (o->rc = mf_buf_addf(o->b, "%s: ", key)) < 0)
		return;
	start = o->b->len;
	if ((o->rc = mf_buf_add(o->b, value, n)) < 0 || (o->rc = mf_buf_adds(o->b, "\n")) < 0)
		return;
	for (; start < o->b->len - 1; start++)
		if ((unsigned char)o->b->data[start] < 32 || o->b->data[start] == 127)
			o->b->data[start] = ' ';
	o->lines++;
}

static void put_opt(struct out *o, const char *key, const char *value)
{
	if (value)
		put_text(o, key, value);
}

static void put_time(struct out *o, const char *key, time_t t, int optional)
{
	char ts[MF_TIMESTAMP_LEN];
	time_t back;

	if (optional && !t)
		return;
	mf_format_timestamp(t, ts);
	/* a time that cannot be written reads back as 0: leave it out */
	if (optional && (mf_parse_timestamp(ts, &back) < 0 || !back))
		return;
	put(o, key, "", ts, "");
}

static void put_extra(struct out *o, const struct mf_buf *extra)
{
	size_t i;

	if (o->rc || !extra->len)
		return;
	o->rc = mf_buf_add(o->b, extra->data, extra->len);
	for (i = 0; i < extra->len; i++)
		o->lines += extra->data[i] == '\n';
}

static void format_rcpt(struct out *o, const struct mf_rcpt *r)
{
	char n[24];
	unsigned bits = r->notified & (MF_NOTIFIED_DELAYED | MF_NOTIFIED_FAILED);

	put(o, "Recipient", "<", r->addr, ">");
	put(o, "State", "", mf_rcpt_state_name(r->state), "");
	snprintf(n, sizeof n, "%u", r->attempts < MF_ENVELOPE_ATTEMPTS_MAX
		 ? r->attempts : MF_ENVELOPE_ATTEMPTS_MAX);
	put(o, "Attempts", "", n, "");
	put_time(o, "Last-Attempt", r->last_attempt, 1);
	put_time(o, "Next-Attempt", r->next_attempt, 1);
	put_opt(o, "Last-Reply", r->reply);
	put_opt(o, "Route", r->route);
	put_opt(o, "Remote-MTA", r->remote);
	if (bits)
		put(o, "Notified", "", notified_names[bits], "");
	put_extra(o, &r->extra);
}

/* What the reader would refuse is not written: NULL or a reason. */
static const char *unwritable(const struct mf_envelope *env)
{
	size_t i;

	if (!env->id || !id_ok(env->id))
		return "no valid Id";
	if (env->sender && !addr_ok(env->sender, 1))
		return "bad sender address";
	if (!env->nrcpts)
		return "no recipients";
	for (i = 0; i < env->nrcpts; i++)
		if (!env->rcpts[i].addr || !addr_ok(env->rcpts[i].addr, 0))
			return "bad recipient address";
	return NULL;
}

enum mf_status mf_envelope_format(const struct mf_envelope *env,
				  struct mf_buf *b, struct mf_err *err)
{
	struct out o = { b, 0, 0 };
	const char *why = unwritable(env);
	size_t i, start = b->len;
	char n[24];

	if (why)
		return mf_err_set(err, MF_EINTERNAL, "envelope not written: %s", why);
	snprintf(n, sizeof n, "%d", MF_ENVELOPE_VERSION);
	put(&o, "Version", "", n, "");
	put(&o, "Id", "", env->id, "");
	put_time(&o, "Arrival", env->arrival, 0);
	put(&o, "Sender", "<", env->sender ? env->sender : "", ">");
	snprintf(n, sizeof n, "%llu", (unsigned long long)env->size);
	put(&o, "Size", "", n, "");
	put_opt(&o, "Client-Address", env->client_addr);
	put_opt(&o, "Client-Helo", env->client_helo);
	put_opt(&o, "Receiver-Id", env->receiver_id);
	put_extra(&o, &env->extra);
	for (i = 0; i < env->nrcpts; i++)
		format_rcpt(&o, &env->rcpts[i]);
	snprintf(n, sizeof n, "%zu", env->nrcpts);
	put(&o, "End", "", n, "");
	if (o.rc < 0)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	if (b->len - start > MF_ENVELOPE_MAX || o.lines > MF_ENVELOPE_LINES_MAX)
		return mf_err_set(err, MF_ETOOBIG, "envelope not written: over %u bytes or %u lines",
				  MF_ENVELOPE_MAX, MF_ENVELOPE_LINES_MAX);
	return MF_OK;
}

/* ---- reading ---- */

struct in {
	struct mf_envelope *env;
	unsigned line;
	int in_rcpt;     /* 0: the entry block; 1: the last recipient's */
	unsigned pos;    /* index of the next key the block may have */
	int unknown;     /* an unknown key was seen: only more of them may follow */
	int ended;       /* the End line was read */
	int nomem;
	char why[120];
};

static int fail(struct in *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct in *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof p->why, fmt, ap);
	va_end(ap);
	return -1;
}

static int set(struct in *p, char **field, const char *v)
{
	if (mf_envelope_set(field, v) < 0) {
		p->nomem = 1;
		return fail(p, "out of memory");
	}
	return 0;
}

/* A decimal number in its one spelling: no sign, no leading zero. */
static int number(const char *v, unsigned long long max, unsigned long long *out)
{
	unsigned long long n = 0;
	const char *s;

	if (!*v || (v[0] == '0' && v[1]))
		return -1;
	for (s = v; *s; s++) {
		if (*s < '0' || *s > '9' || n > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (unsigned)(*s - '0');
	}
	*out = n;
	return 0;
}

/* "<address>", the address as the intake checks it. */
static int bracketed(struct in *p, char **field, const char *v, int null_ok, const char *key)
{
	size_t n = strlen(v);
	char a[MF_ADDR_MAX + 1];

	if (n < 2 || n - 2 > MF_ADDR_MAX || v[0] != '<' || v[n - 1] != '>')
		return fail(p, "%s: not one address in angle brackets", key);
	memcpy(a, v + 1, n - 2);
	a[n - 2] = '\0';
	if (!addr_ok(a, null_ok))
		return fail(p, "%s: bad address", key);
	return set(p, field, a);
}

static int timestamp(struct in *p, time_t *t, const char *v, int nonzero, const char *key)
{
	if (mf_parse_timestamp(v, t) < 0 || (nonzero && !*t))
		return fail(p, "%s: bad time", key);
	return 0;
}

static int entry_value(struct in *p, unsigned k, const char *v)
{
	struct mf_envelope *env = p->env;
	unsigned long long u;

	switch (k) {
	case E_VERSION:
		if (number(v, 1000, &u) < 0 || u != MF_ENVELOPE_VERSION)
			return fail(p, "Version: not %d, the only one this mf reads",
				    MF_ENVELOPE_VERSION);
		return 0;
	case E_ID:
		return id_ok(v) ? set(p, &env->id, v) : fail(p, "Id: bad entry id");
	case E_ARRIVAL:
		return timestamp(p, &env->arrival, v, 0, "Arrival");
	case E_SENDER:
		return bracketed(p, &env->sender, v, 1, "Sender");
	case E_SIZE:
		if (number(v, UINT64_MAX, &u) < 0)
			return fail(p, "Size: bad number");
		env->size = u;
		return 0;
	case E_CADDR:
		return set(p, &env->client_addr, v);
	case E_CHELO:
		return set(p, &env->client_helo, v);
	default:
		return set(p, &env->receiver_id, v);
	}
}

static int name_index(const char *const *names, size_t n, const char *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], v))
			return (int)i;
	return -1;
}

static int rcpt_value(struct in *p, unsigned k, const char *v)
{
	struct mf_rcpt *r = &p->env->rcpts[p->env->nrcpts - 1];
	unsigned long long u;
	int i;

	switch (k) {
	case R_STATE:
		if ((i = name_index(state_names, 4, v)) < 0)
			return fail(p, "State: not pending, deferred, delivered or failed");
		r->state = (enum mf_rcpt_state)i;
		return 0;
	case R_ATTEMPTS:
		if (number(v, MF_ENVELOPE_ATTEMPTS_MAX, &u) < 0)
			return fail(p, "Attempts: bad number");
		r->attempts = (unsigned)u;
		return 0;
	case R_LAST:
		return timestamp(p, &r->last_attempt, v, 1, "Last-Attempt");
	case R_NEXT:
		return timestamp(p, &r->next_attempt, v, 1, "Next-Attempt");
	case R_REPLY:
		return set(p, &r->reply, v);
	case R_ROUTE:
		return set(p, &r->route, v);
	case R_REMOTE:
		return set(p, &r->remote, v);
	default:
		if ((i = name_index(notified_names, 4, v)) < 0)
			return fail(p, "Notified: not delayed, failed or \"delayed, failed\"");
		r->notified = (unsigned)i;
		return 0;
	}
}

/* The current block is complete: every required key was seen. */
static int close_block(struct in *p)
{
	unsigned nreq = p->in_rcpt ? R_NREQ : E_NREQ;
	const char *const *keys = p->in_rcpt ? rcpt_keys : entry_keys;

	if (p->pos < nreq)
		return fail(p, "no %s line%s", keys[p->pos], p->in_rcpt ? " for the recipient" : "");
	return 0;
}

static int known_anywhere(const char *k)
{
	size_t i;

	for (i = 0; i < E_NKEYS; i++)
		if (!strcasecmp(k, entry_keys[i]))
			return 1;
	for (i = 0; i < R_NKEYS; i++)
		if (!strcasecmp(k, rcpt_keys[i]))
			return 1;
	return !strcasecmp(k, "End");
}

static int open_rcpt(struct in *p, const char *v)
{
	if (close_block(p) < 0)
		return -1;
	if (mf_envelope_add_rcpt(p->env, "") < 0) {
		p->nomem = 1;
		return fail(p, "out of memory");
	}
	p->in_rcpt = 1;
	p->pos = R_RECIPIENT + 1;
	p->unknown = 0;
	return bracketed(p, &p->env->rcpts[p->env->nrcpts - 1].addr, v, 0, "Recipient");
}

static int end_line(struct in *p, const char *v)
{
	unsigned long long n;

	if (close_block(p) < 0)
		return -1;
	if (!p->env->nrcpts)
		return fail(p, "no recipients");
	if (number(v, SIZE_MAX, &n) < 0 || n != p->env->nrcpts)
		return fail(p, "End: not the number of recipients read (%zu): cut short or edited",
			    p->env->nrcpts);
	p->ended = 1;
	return 0;
}

static int keep_unknown(struct in *p, const char *k, const char *v)
{
	struct mf_buf *b = p->in_rcpt ? &p->env->rcpts[p->env->nrcpts - 1].extra
				      : &p->env->extra;

	if (known_anywhere(k))
		return fail(p, "%s: repeated, misspelt or out of its place", k);
	if (p->pos < (p->in_rcpt ? R_NREQ : E_NREQ))
		return fail(p, "unknown key before the required ones");
	p->unknown = 1;
	if (mf_buf_addf(b, "%s: %s\n", k, v) < 0) {
		p->nomem = 1;
		return fail(p, "out of memory");
	}
	return 0;
}

/* One key of the current block, in its place. */
static int block_key(struct in *p, const char *k, const char *v)
{
	const char *const *keys = p->in_rcpt ? rcpt_keys : entry_keys;
	unsigned nkeys = p->in_rcpt ? R_NKEYS : E_NKEYS, nreq = p->in_rcpt ? R_NREQ : E_NREQ;
	int i = name_index(keys, nkeys, k);

	if (i < 0)
		return keep_unknown(p, k, v);
	if (p->unknown || (unsigned)i < p->pos || ((unsigned)i > p->pos && p->pos < nreq))
		return fail(p, "%s: repeated or out of its place", k);
	p->pos = (unsigned)i + 1;
	return p->in_rcpt ? rcpt_value(p, (unsigned)i, v) : entry_value(p, (unsigned)i, v);
}

static int key_ok(const char *k, size_t n)
{
	size_t i;

	if (!n || n > KEY_MAX || !((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z')))
		return 0;
	for (i = 1; i < n; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return 0;
	return 1;
}

/* One line, without its LF and free of control characters. */
static int parse_line(struct in *p, char *line)
{
	char *colon = strchr(line, ':');

	if (!colon || colon[1] != ' ' || !key_ok(line, (size_t)(colon - line)))
		return fail(p, "not a \"Key: value\" line");
	*colon = '\0';
	if (p->line == 1 && strcmp(line, "Version"))
		return fail(p, "does not start with Version");
	if (!strcmp(line, "End"))
		return end_line(p, colon + 2);
	if (!strcmp(line, "Recipient"))
		return open_rcpt(p, colon + 2);
	return block_key(p, line, colon + 2);
}

/* Cut the next line off text into line; -1 when it is not a clean one. */
static int next_line(struct in *p, const char **text, const char *end, char *line)
{
	const char *s = *text, *nl = memchr(s, '\n', (size_t)(end - s));
	size_t n, i;

	if (!nl)
		return fail(p, "no newline at the end: cut short");
	n = (size_t)(nl - s);
	if (n >= MF_ENVELOPE_LINE_MAX)
		return fail(p, "line longer than %u bytes", MF_ENVELOPE_LINE_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 32 || s[i] == 127)
			return fail(p, "control character");
	memcpy(line, s, n);
	line[n] = '\0';
	*text = nl + 1;
	return 0;
}

enum mf_status mf_envelope_parse(const char *text, size_t len,
				 struct mf_envelope *env, struct mf_err *err)
{
	struct in p = { .env = env };
	const char *end = text + len;
	char line[MF_ENVELOPE_LINE_MAX];
	int rc = 0;

	if (len > MF_ENVELOPE_MAX)
		return mf_err_set(err, MF_ECORRUPT, "envelope: larger than %u bytes", MF_ENVELOPE_MAX);
	if (!len)
		return mf_err_set(err, MF_ECORRUPT, "envelope: empty");
	while (!rc && text < end) {
		p.line++;
		if (p.ended)
			rc = fail(&p, "text after the End line");
		else if (p.line > MF_ENVELOPE_LINES_MAX)
			rc = fail(&p, "more than %u lines", MF_ENVELOPE_LINES_MAX);
		else
			rc = next_line(&p, &text, end, line) < 0 ? -1 : parse_line(&p, line);
	}
	if (p.nomem)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	if (!rc && !p.ended)
		rc = fail(&p, "no End line: cut short");
	if (rc)
		return mf_err_set(err, MF_ECORRUPT, "envelope line %u: %s", p.line, p.why);
	return MF_OK;
}
