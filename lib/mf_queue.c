/* SPDX-License-Identifier: MIT */
/* Queue administration: listing entries and requeueing failed ones. */
#include "mf_queue.h"

#include <string.h>
#include <sys/file.h>

#include "mf_envelope.h"
#include "mf_log.h"
#include "mf_time.h"

struct list_ctx {
	FILE *out;
	time_t now;
	unsigned count;
	unsigned long long bytes;
};

/* s escaped into one of two rotating buffers: a listing shows nothing raw */
static const char *esc(const char *s)
{
	static char buf[2][2048];
	static int i;

	i = !i;
	return mf_escape(s ? s : "", buf[i], sizeof buf[i]);
}

static void print_rcpt(FILE *out, const struct mf_rcpt *r)
{
	char ts[MF_TIMESTAMP_LEN];

	fprintf(out, "    <%s> %s", esc(r->addr), mf_rcpt_state_name(r->state));
	if (r->attempts)
		fprintf(out, " attempts=%u", r->attempts);
	if (r->next_attempt && r->state == MF_RCPT_DEFERRED) {
		mf_format_timestamp(r->next_attempt, ts);
		fprintf(out, " next=%s", ts);
	}
	if (r->route)
		fprintf(out, " route=%s", esc(r->route));
	fputc('\n', out);
	if (r->reply)
		fprintf(out, "      (%s)\n", esc(r->reply));
}

static int list_one(struct mf_spool *sp, const char *queue, const char *sub,
		    const char *id, void *vctx)
{
	struct list_ctx *c = vctx;
	struct mf_envelope env;
	struct mf_entry e;
	struct mf_err err;
	char age[32];
	int claimed;
	size_t i;

	if (!mf_id_valid(id)) {
		c->count++;
		fprintf(c->out, "%-10s %s  (invalid entry name; set aside by the next queue run)\n",
			queue, esc(id));
		return 0;
	}
	if (mf_entry_open(sp, queue, sub, id, &e, &err)) {
		if (err.status != MF_ENOENT) { /* else: moved on while we listed */
			c->count++;
			fprintf(c->out, "%-10s %s  (unreadable: %s)\n", queue, id, esc(err.msg));
		}
		return 0;
	}
	claimed = !strcmp(sub, "cur");
	mf_envelope_init(&env);
	c->count++;
	if (mf_entry_read_envelope(&e, &env, &err)) {
		fprintf(c->out, "%-10s %s%s  (unreadable: %s)\n", queue, id,
			claimed ? "*" : "", esc(err.msg));
	} else {
		mf_format_age((int64_t)(c->now - env.arrival), age, sizeof age);
		fprintf(c->out, "%-10s %s%s %7s %9llu <%s>\n", queue, id,
			claimed ? "*" : " ", age, (unsigned long long)env.size,
			esc(env.sender));
		c->bytes += env.size;
		for (i = 0; i < env.nrcpts; i++)
			print_rcpt(c->out, &env.rcpts[i]);
	}
	mf_envelope_free(&env);
	mf_entry_close(&e);
	return 0;
}

enum mf_status mf_queue_list(struct mf_spool *sp, const char *queue, FILE *out,
			     time_t now, unsigned *count, struct mf_err *err)
{
	struct list_ctx c = { out, now, 0, 0 };
	const char *const *q;
	enum mf_status st;

	if (queue && !mf_queue_valid(queue))
		return mf_err_set(err, MF_EUSAGE, "unknown queue '%.40s' (in, out, failed, quarantine, corrupt)",
				  queue);
	for (q = mf_queues; *q; q++) {
		if (queue && strcmp(queue, *q))
			continue;
		if ((st = mf_spool_each_name(sp, *q, "new", list_one, &c, err)) ||
		    (st = mf_spool_each_name(sp, *q, "cur", list_one, &c, err)))
			return st;
	}
	if (c.count)
		fprintf(out, "-- %u %s, %llu bytes\n", c.count,
			c.count == 1 ? "entry" : "entries", c.bytes);
	else
		fprintf(out, "-- %s is empty\n", queue ? queue : "spool");
	if (count)
		*count = c.count;
	return MF_OK;
}

static void reset_rcpts(struct mf_envelope *env)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		struct mf_rcpt *r = &env->rcpts[i];
		if (r->state == MF_RCPT_DELIVERED)
			continue;
		r->state = MF_RCPT_PENDING;
		r->attempts = 0;
		r->next_attempt = 0;
	}
}

enum mf_status mf_queue_requeue(struct mf_spool *sp, const char *name,
				struct mf_entry *e, struct mf_err *err)
{
	char queue[16], sub[4], id[MF_ID_MAX];
	struct mf_envelope env;
	enum mf_status st;

	if ((st = mf_spool_find(sp, NULL, name, queue, sizeof queue, sub, id, err)))
		return st;
	if (strcmp(queue, "failed"))
		return mf_err_set(err, MF_EUSAGE, "%.200s is in %s/, not in failed/", name, queue);
	/* failed/cur: a claim; take it back only if its process is gone */
	if (strcmp(sub, "new") && mf_entry_put_back_stalled(sp, "failed", id, err))
		return err && err->status == MF_EBUSY
			? mf_err_set(err, MF_EBUSY, "%.200s is being worked on (failed/cur)", name)
			: (err ? err->status : MF_EIO);
	if ((st = mf_entry_claim(sp, "failed", id, e, err)))
		return st;
	mf_envelope_init(&env);
	st = mf_entry_read_envelope(e, &env, err);
	if (st == MF_OK) {
		reset_rcpts(&env);
		st = mf_entry_write_envelope(e, &env, err);
	}
	if (st == MF_ECORRUPT) { /* corrupt: set aside, never requeued */
		mf_entry_set_aside(e, err, NULL);
		mf_envelope_free(&env);
		return st;
	}
	if (st == MF_OK)
		st = mf_entry_move(e, "out", err);
	if (st != MF_OK && e->dirfd >= 0 && !strcmp(e->sub, "cur"))
		mf_entry_release(e, NULL); /* back to failed/new, not left claimed */
	mf_entry_close(e);
	mf_envelope_free(&env);
	if (st == MF_OK)
		mf_log(LOG_INFO, "%s: requeued from failed/ to out/", id);
	return st;
}
