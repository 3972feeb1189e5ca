/* SPDX-License-Identifier: MIT */
/* The envelope of a spool entry: text <-> struct (see mf-spool(5)). */
#include "mf_envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mf_time.h"

#define MF_ENVELOPE_VERSION 1

static const char *const state_names[] = {
	[MF_RCPT_PENDING] = "pending",
	[MF_RCPT_DEFERRED] = "deferred",
	[MF_RCPT_DELIVERED] = "delivered",
	[MF_RCPT_FAILED] = "failed",
};

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

/* A value is written on one line: CR, LF and other controls become spaces
 * (free text such as a peer's reply; addresses are checked at intake, and
 * flattening them too keeps a bad caller from adding lines all the same). */
static int add_flat(struct mf_buf *b, const char *key, const char *open,
		    const char *value, const char *close)
{
	size_t start;

	if (mf_buf_addf(b, "%s: %s", key, open) < 0)
		return -1;
	start = b->len;
	if (mf_buf_adds(b, value) < 0)
		return -1;
	for (; start < b->len; start++)
		if ((unsigned char)b->data[start] < 32 || b->data[start] == 127)
			b->data[start] = ' ';
	return mf_buf_addf(b, "%s\n", close);
}

static int add_line(struct mf_buf *b, const char *key, const char *value)
{
	return add_flat(b, key, "", value, "");
}

static int add_addr(struct mf_buf *b, const char *key, const char *addr)
{
	return add_flat(b, key, "<", addr, ">");
}

static int add_time(struct mf_buf *b, const char *key, time_t t)
{
	char ts[MF_TIMESTAMP_LEN];

	mf_format_timestamp(t, ts);
	return add_line(b, key, ts);
}

static int format_rcpt(struct mf_buf *b, const struct mf_rcpt *r)
{
	if (add_addr(b, "Recipient", r->addr) < 0 ||
	    add_line(b, "State", mf_rcpt_state_name(r->state)) < 0 ||
	    mf_buf_addf(b, "Attempts: %u\n", r->attempts) < 0)
		return -1;
	if (r->last_attempt && add_time(b, "Last-Attempt", r->last_attempt) < 0)
		return -1;
	if (r->next_attempt && add_time(b, "Next-Attempt", r->next_attempt) < 0)
		return -1;
	if (r->reply && add_line(b, "Last-Reply", r->reply) < 0)
		return -1;
	if (r->route && add_line(b, "Route", r->route) < 0)
		return -1;
	if (r->remote && add_line(b, "Remote-MTA", r->remote) < 0)
		return -1;
	if (r->notified && add_line(b, "Notified",
				    r->notified == MF_NOTIFIED_DELAYED ? "delayed"
				    : r->notified == MF_NOTIFIED_FAILED ? "failed"
				    : "delayed, failed") < 0)
		return -1;
	return r->extra.len ? mf_buf_add(b, r->extra.data, r->extra.len) : 0;
}

enum mf_status mf_envelope_format(const struct mf_envelope *env,
				  struct mf_buf *b, struct mf_err *err)
{
	size_t i;
	int rc;

	rc = mf_buf_addf(b, "Version: %d\n", MF_ENVELOPE_VERSION);
	if (!rc && env->id)
		rc = add_line(b, "Id", env->id);
	if (!rc)
		rc = add_time(b, "Arrival", env->arrival);
	if (!rc)
		rc = add_addr(b, "Sender", env->sender ? env->sender : "");
	if (!rc)
		rc = mf_buf_addf(b, "Size: %llu\n", (unsigned long long)env->size);
	if (!rc && env->client_addr)
		rc = add_line(b, "Client-Address", env->client_addr);
	if (!rc && env->client_helo)
		rc = add_line(b, "Client-Helo", env->client_helo);
	if (!rc && env->receiver_id)
		rc = add_line(b, "Receiver-Id", env->receiver_id);
	if (!rc && env->extra.len)
		rc = mf_buf_add(b, env->extra.data, env->extra.len);
	for (i = 0; !rc && i < env->nrcpts; i++)
		rc = format_rcpt(b, &env->rcpts[i]);
	if (rc < 0)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	return MF_OK;
}

/* "<addr>" -> addr; a value without brackets is taken as it is. */
static int set_addr(char **field, const char *v)
{
	size_t n = strlen(v);
	char *p;

	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
		p = strndup(v + 1, n - 2);
		if (!p)
			return -1;
		free(*field);
		*field = p;
		return 0;
	}
	return mf_envelope_set(field, v);
}

static int parse_uint(const char *v, unsigned long long *out)
{
	char *end;

	if (!*v || *v == '-')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end ? -1 : 0;
}

static int keep_line(struct mf_buf *b, const char *key, const char *value)
{
	return mf_buf_addf(b, "%s: %s\n", key, value);
}

static int parse_notified(const char *v, unsigned *bits)
{
	if (!strcasecmp(v, "delayed"))
		*bits = MF_NOTIFIED_DELAYED;
	else if (!strcasecmp(v, "failed"))
		*bits = MF_NOTIFIED_FAILED;
	else if (!strcasecmp(v, "delayed, failed") || !strcasecmp(v, "delayed,failed"))
		*bits = MF_NOTIFIED_DELAYED | MF_NOTIFIED_FAILED;
	else
		return -1;
	return 0;
}

/* Returns 0, -1 for a bad value, -2 for allocation failure. */
static int rcpt_key(struct mf_rcpt *r, const char *k, const char *v)
{
	unsigned long long u;
	time_t t;

	if (!strcasecmp(k, "State"))
		return mf_rcpt_state_parse(v, &r->state);
	if (!strcasecmp(k, "Attempts")) {
		if (parse_uint(v, &u) < 0 || u > 1000000)
			return -1;
		r->attempts = (unsigned)u;
		return 0;
	}
	if (!strcasecmp(k, "Last-Attempt") || !strcasecmp(k, "Next-Attempt")) {
		if (mf_parse_timestamp(v, &t) < 0)
			return -1;
		*(k[0] == 'L' || k[0] == 'l' ? &r->last_attempt : &r->next_attempt) = t;
		return 0;
	}
	if (!strcasecmp(k, "Last-Reply"))
		return mf_envelope_set(&r->reply, v) < 0 ? -2 : 0;
	if (!strcasecmp(k, "Route"))
		return mf_envelope_set(&r->route, v) < 0 ? -2 : 0;
	if (!strcasecmp(k, "Remote-MTA"))
		return mf_envelope_set(&r->remote, v) < 0 ? -2 : 0;
	if (!strcasecmp(k, "Notified"))
		return parse_notified(v, &r->notified);
	return keep_line(&r->extra, k, v) < 0 ? -2 : 0;
}

static int entry_key(struct mf_envelope *env, const char *k, const char *v)
{
	unsigned long long u;

	if (!strcasecmp(k, "Version"))
		return parse_uint(v, &u) < 0 || u != MF_ENVELOPE_VERSION ? -1 : 0;
	if (!strcasecmp(k, "Id"))
		return mf_envelope_set(&env->id, v) < 0 ? -2 : 0;
	if (!strcasecmp(k, "Arrival"))
		return mf_parse_timestamp(v, &env->arrival);
	if (!strcasecmp(k, "Sender"))
		return set_addr(&env->sender, v) < 0 ? -2 : 0;
	if (!strcasecmp(k, "Size")) {
		if (parse_uint(v, &u) < 0)
			return -1;
		env->size = u;
		return 0;
	}
	if (!strcasecmp(k, "Client-Address"))
		return mf_envelope_set(&env->client_addr, v) < 0 ? -2 : 0;
	if (!strcasecmp(k, "Client-Helo"))
		return mf_envelope_set(&env->client_helo, v) < 0 ? -2 : 0;
	if (!strcasecmp(k, "Receiver-Id"))
		return mf_envelope_set(&env->receiver_id, v) < 0 ? -2 : 0;
	return keep_line(&env->extra, k, v) < 0 ? -2 : 0;
}

static int parse_one(struct mf_envelope *env, char *line)
{
	char *colon = strchr(line, ':'), *v;
	struct mf_rcpt *r;

	if (!colon || colon == line)
		return -1;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!strcasecmp(line, "Recipient")) {
		if (mf_envelope_add_rcpt(env, "") < 0)
			return -2;
		r = &env->rcpts[env->nrcpts - 1];
		return set_addr(&r->addr, v) < 0 ? -2 : 0;
	}
	if (env->nrcpts)
		return rcpt_key(&env->rcpts[env->nrcpts - 1], line, v);
	return entry_key(env, line, v);
}

enum mf_status mf_envelope_parse(const char *text, size_t len,
				 struct mf_envelope *env, struct mf_err *err)
{
	char *copy, *line, *next;
	unsigned lineno = 0;
	int rc = 0;

	if (memchr(text, '\0', len))
		return mf_err_set(err, MF_EDATA, "envelope: NUL byte");
	copy = strndup(text, len);
	if (!copy)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	for (line = copy; rc == 0 && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (*line && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (!*line)
			continue;
		rc = parse_one(env, line);
	}
	free(copy);
	if (rc == -2)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	if (rc < 0)
		return mf_err_set(err, MF_EDATA, "envelope line %u: bad line", lineno);
	if (!env->sender)
		return mf_err_set(err, MF_EDATA, "envelope: no Sender line before the recipients");
	return MF_OK;
}
