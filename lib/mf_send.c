/* SPDX-License-Identifier: MIT */
/* mf-send's work: deliver spool entries to their next hops, retry, give up. */
#include "mf_send.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mf_buf.h"
#include "mf_deliver.h"
#include "mf_dns.h"
#include "mf_envelope.h"
#include "mf_file.h"
#include "mf_hop.h"
#include "mf_intake.h"
#include "mf_log.h"

extern char **environ;

#define S "Sender"

static int secs(const struct mf_conf *c, const char *id, const char *key)
{
	int64_t v = mf_conf_duration(c, S, id, key);

	return v > INT32_MAX ? INT32_MAX : (int)v;
}

/* AUTH PLAIN sends base64("\0USER\0PASSWORD") on one command line. */
#define AUTH_USER_MAX 255
#define AUTH_PASS_MAX 1024
_Static_assert(4 * ((AUTH_USER_MAX + AUTH_PASS_MAX + 4) / 3) + sizeof "AUTH PLAIN "
	       < MF_SMTP_LINE_MAX - 2, "AUTH PLAIN fits a command line");

/* The AUTH password: a secret file like every other (0600, no symlink). */
static enum mf_status read_secret(const char *path, char **out, struct mf_err *err)
{
	struct mf_secret sec;
	enum mf_status st;

	if (!*path)
		return mf_err_set(err, MF_ECONFIG, "AuthUser needs AuthPasswordFile");
	if ((st = mf_secret_load(path, 1, AUTH_PASS_MAX, &sec, err))) {
		mf_err_prefix(err, "AuthPasswordFile is unusable");
		return st;
	}
	if (strcspn((char *)sec.data, "\r\n") != sec.len) {
		mf_secret_free(&sec);
		return mf_err_set(err, MF_ECONFIG,
				  "AuthPasswordFile %s: the password must be one line", path);
	}
	*out = (char *)sec.data; /* wiped and freed by mf_send_end */
	return MF_OK;
}

static void default_notify_prog(char *out, size_t outsz)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n <= 0) {
		snprintf(out, outsz, "mf-notify");
		return;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, outsz, "%.4000s/mf-notify", self);
}

/* MXLoopExempt: a comma-separated list of ADDR or ADDR:PORT ([V6ADDR]:PORT). */
static enum mf_status loop_exempt(struct mf_sender *s, const char *list, struct mf_err *err)
{
	char item[80];
	size_t n;

	for (s->nexempt = 0; *list; list += n + (list[n] == ',')) {
		list += strspn(list, " \t");
		n = strcspn(list, ",");
		if (!n)
			continue;
		if (n >= sizeof item || s->nexempt == sizeof s->exempt / sizeof s->exempt[0])
			return mf_err_set(err, MF_ECONFIG, "MXLoopExempt: item too long or too many");
		memcpy(item, list, n);
		for (item[n] = '\0'; n && (item[n - 1] == ' ' || item[n - 1] == '\t'); n--)
			item[n - 1] = '\0';
		if (mf_dns_parse_addr(item, &s->exempt[s->nexempt++]) < 0)
			return mf_err_set(err, MF_ECONFIG,
					  "MXLoopExempt: %.80s: want ADDR or ADDR:PORT", item);
		n = strcspn(list, ",");
	}
	return MF_OK;
}

/* HeloName, else [General] Hostname whole (the spool's copy is cut and
 * mended for entry names), else the system's: never cut to fit. */
static enum mf_status helo_name(struct mf_sender *s, const struct mf_conf *c,
				const char *id, struct mf_err *err)
{
	enum mf_status st = mf_conf_copy(c, S, id, "HeloName", s->host, sizeof s->host, err);

	if (st == MF_OK && !s->host[0])
		st = mf_conf_copy(c, "General", NULL, "Hostname", s->host, sizeof s->host, err);
	if (st == MF_OK && !s->host[0])
		snprintf(s->host, sizeof s->host, "%s", s->spool->host);
	return st;
}

enum mf_status mf_send_setup(struct mf_sender *s, struct mf_spool *sp,
			     const struct mf_conf *c, const char *id,
			     struct mf_err *err)
{
	const char *tls = mf_conf_str(c, S, id, "TLS");
	const char *v;
	enum mf_status st;

	memset(s, 0, sizeof *s);
	s->spool = sp;
	mf_spool_remove_async(sp, 1); /* freeing trash is off the delivery path */
	s->conf = c;
	s->id = id;
	s->nintervals = mf_conf_durations(c, S, id, "SendingIntervals", s->intervals, 64);
	s->pipe_timeout = mf_conf_duration(c, S, id, "PipeTimeout");
	s->stalled = mf_conf_duration(c, S, id, "StalledProcessingInterval");
	s->send_dsn = mf_conf_bool(c, S, id, "SendDSN");
	if ((st = mf_conf_copy(c, S, id, "NotifyProgram", s->notify_prog,
			       sizeof s->notify_prog, err)) || (st = helo_name(s, c, id, err)))
		return st;
	if (!s->notify_prog[0])
		default_notify_prog(s->notify_prog, sizeof s->notify_prog);
	s->smtp.helo_name = s->host;
	s->smtp.tls = !strcasecmp(tls, "none") ? MF_TLS_NONE : !strcasecmp(tls, "encrypt")
		? MF_TLS_ENCRYPT : !strcasecmp(tls, "verify") ? MF_TLS_VERIFY : MF_TLS_MAY;
	v = mf_conf_str(c, S, id, "TLSCAFile");
	s->smtp.ca_file = *v ? v : NULL;
	v = mf_conf_str(c, S, id, "AuthUser");
	if (strlen(v) > AUTH_USER_MAX)
		return mf_err_set(err, MF_ECONFIG, "%s:%u: AuthUser is longer than %d bytes",
				  mf_conf_path(c), mf_conf_line(c, S, id, "AuthUser"), AUTH_USER_MAX);
	if (*v) {
		s->smtp.auth_user = v;
		if ((st = read_secret(mf_conf_str(c, S, id, "AuthPasswordFile"), &s->auth_pass, err)))
			return st;
		s->smtp.auth_pass = s->auth_pass;
	}
	s->smtp.t_connect = secs(c, id, "ConnectTimeout");
	s->smtp.t_helo = secs(c, id, "HeloCmdTimeout");
	s->smtp.t_mail = secs(c, id, "MailFromCmdTimeout");
	s->smtp.t_rcpt = secs(c, id, "RcptToCmdTimeout");
	s->smtp.t_data = secs(c, id, "DataCmdTimeout");
	s->smtp.t_block = secs(c, id, "DataBlockTimeout");
	s->smtp.t_eod = secs(c, id, "EndOfDataTimeout");
	s->smtp.t_other = secs(c, id, "OtherCmdsTimeout");
	s->smtp.rcpt_limit = mf_conf_uint(c, S, id, "RecipientLimit");
	if (!s->smtp.rcpt_limit)
		s->smtp.rcpt_limit = UINT_MAX;   /* 0: no limit */
	v = mf_conf_str(c, S, id, "Resolver");
	if (*v && (st = mf_dns_set_resolver(v, err)))
		return st;
	if ((st = loop_exempt(s, mf_conf_str(c, S, id, "MXLoopExempt"), err)))
		return st;
	s->max_mx = mf_conf_uint(c, S, id, "MaxMXHosts");
	if (s->max_mx == 0)
		return mf_err_set(err, MF_ECONFIG, "MaxMXHosts must be 1 or more");
	if (mf_conf_bool(c, S, id, "UseSecureHash")) {
		v = mf_conf_str(c, S, id, "SecureHashFile");
		if (!*v)
			return mf_err_set(err, MF_ECONFIG, "UseSecureHash = yes needs SecureHashFile");
		if ((st = mf_conf_copy(c, S, id, "SecureHashHeader", s->mark_name,
				       sizeof s->mark_name, err)))
			return st;
		if ((st = mf_mark_key_load(v, &s->mark_key, err)))
			return st;
	}
	return MF_OK;
}

/* The mark header line for this entry, when UseSecureHash is on. */
static enum mf_status make_mark(struct mf_sender *s, const struct mf_envelope *env,
				int msgfd, struct mf_err *err)
{
	char msgid[512], value[MF_MARK_MAX];
	enum mf_status st;

	s->mark[0] = '\0';
	if (!s->mark_key.data)
		return MF_OK;
	if ((st = mf_mark_message_id(msgfd, msgid, sizeof msgid, err)) ||
	    (st = mf_mark_make(&s->mark_key, s->now, env->sender ? env->sender : "",
			       msgid, value, err)))
		return st;
	snprintf(s->mark, sizeof s->mark, "%s: %s\n", s->mark_name, value);
	return MF_OK;
}

enum mf_status mf_send_check(struct mf_spool *sp, const struct mf_conf *c,
			     const char *id, struct mf_err *err)
{
	struct mf_sender s;
	struct mf_hop *hops;
	enum mf_status st;
	size_t n;

	if ((st = mf_send_setup(&s, sp, c, id, err)) == MF_OK &&
	    (st = mf_hop_parse_list(mf_conf_str(c, S, id, "Address"),
				    mf_conf_str(c, S, id, "Method"),
				    mf_conf_str(c, S, id, "Options"), &hops, &n, err)) == MF_OK)
		free(hops);
	mf_send_end(&s);
	if (st != MF_OK)
		mf_err_prefix(err, id ? "[Sender ID]" : "[Sender]");
	return st;
}

enum mf_status mf_send_sync(struct mf_sender *s, struct mf_err *err)
{
	enum mf_status st = MF_OK;

	if (s->unsynced[0])
		st = mf_queue_sync(s->spool, s->unsynced, "cur", err);
	s->unsynced[0] = '\0';
	mf_spool_reap_wait(s->spool); /* the trash of this run is freed */
	return st;
}

void mf_send_idle(struct mf_sender *s)
{
	if (s->cached)
		mf_smtp_close(s->cached);
	s->cached = NULL;
}

void mf_send_end(struct mf_sender *s)
{
	mf_send_idle(s);
	if (s->spool) /* NULL: a sender whose setup never ran (a refused reload) */
		mf_spool_reap_wait(s->spool);
	mf_mark_key_free(&s->mark_key);
	if (s->auth_pass) {
		explicit_bzero(s->auth_pass, strlen(s->auth_pass));
		free(s->auth_pass);
		s->auth_pass = NULL;
	}
}

/* ---- one delivery attempt of a group of recipients to a list of hops ---- */

struct group {
	struct mf_rcpt **r;         /* recipients of the entry in this group */
	struct mf_smtp_reply *reply;
	char remote[300];
	size_t n;
};

static int all_temporary(const struct group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if ((g->reply[i].code < 400 || g->reply[i].code >= 500) &&
		    g->reply[i].code != MF_SMTP_NOT_TRIED)
			return 0;
	return 1;
}

static void reply_all(struct group *g, const struct mf_err *err, const char *dsn)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		mf_reply_set(&g->reply[i], dsn[0] == '5' ? 550 : 451, dsn, "%s", err->msg);
}

static const char *err_dsn(const struct mf_err *err)
{
	const char *d = mf_err_dsncode(err);

	/* a hop that cannot be reached is temporary whatever the library says */
	return d[0] == '5' && err->status != MF_EADDR ? "4.4.1" : d;
}

static enum mf_status smtp_to(struct mf_sender *s, const struct sockaddr *sa,
			      socklen_t salen, const char *host, int lmtp,
			      struct group *g, int msgfd, uint64_t size,
			      const char *sender, struct mf_err *err)
{
	struct mf_smtp_rcpt *rc = calloc(g->n, sizeof *rc);
	struct mf_smtp_opts o = s->smtp;
	char key[600];
	enum mf_status st;
	int reused = 0;
	size_t i;

	if (!rc)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	o.lmtp = lmtp;
	snprintf(key, sizeof key, "%d|%s|", lmtp, host);
	if (salen <= sizeof key - strlen(key) - 1)
		for (i = 0; i < salen; i++)
			snprintf(key + strlen(key), sizeof key - strlen(key), "%02x",
				 ((const unsigned char *)sa)[i]);
	if (s->cached && (strcmp(key, s->cached_key) || !mf_smtp_usable(s->cached))) {
		mf_smtp_close(s->cached);
		s->cached = NULL;
	}
	for (i = 0; i < g->n; i++)
		rc[i].addr = g->r[i]->addr;
	if (s->cached)
		mf_smtp_set_prefix(s->cached, s->mark);
	/* a kept session the server has since closed gets one fresh try */
	if (s->cached && mf_smtp_send(s->cached, sender, rc, g->n, msgfd, size, err) != MF_OK) {
		mf_log(LOG_DEBUG, "%s; opening a new session", err->msg);
		mf_smtp_close(s->cached);
		s->cached = NULL;
	} else if (s->cached) {
		reused = 1;
	}
	st = MF_OK;
	if (!reused && (st = mf_smtp_open(&s->cached, sa, salen, host, &o, err)) == MF_OK)
		snprintf(s->cached_key, sizeof s->cached_key, "%s", key);
	if (st == MF_OK) {
		mf_smtp_set_prefix(s->cached, s->mark);
		if (!reused)
			st = mf_smtp_send(s->cached, sender, rc, g->n, msgfd, size, err);
		if (st == MF_OK) {
			for (i = 0; i < g->n; i++)
				g->reply[i] = rc[i].reply;
			snprintf(g->remote, sizeof g->remote, "%s", mf_smtp_peer(s->cached));
		}
	}
	if (st != MF_OK && s->cached) {
		mf_smtp_close(s->cached);
		s->cached = NULL;
	}
	free(rc);
	return st;
}

/* An address of this host that MXLoopExempt does not name. */
static int is_self(const struct mf_sender *s, const struct sockaddr_storage *ss, unsigned port)
{
	size_t i;

	if (!mf_dns_is_self(ss))
		return 0;
	for (i = 0; i < s->nexempt; i++)
		if (mf_dns_same_addr(&s->exempt[i], ss) &&
		    (!((const struct sockaddr_in *)&s->exempt[i])->sin_port || /* same offset in sin6 */
		     ntohs(((const struct sockaddr_in *)&s->exempt[i])->sin_port) == port))
			return 0;
	return 1;
}

struct mx_host {
	const char *name;
	unsigned pref;
	struct sockaddr_storage *a;
	size_t n;
};

static int host_is_self(const struct mf_sender *s, const struct mx_host *m, unsigned port)
{
	size_t j;

	for (j = 0; j < m->n; j++)
		if (is_self(s, &m->a[j], port))
			return 1;
	return 0;
}

/*
 * The addresses of the first MaxMXHosts MX hosts into out; the count kept.
 * A host that is ourselves ends the list and takes the hosts of its
 * preference with it (*loop = 1).  Lookup failures are the group's replies.
 */
static size_t mx_resolve(struct mf_sender *s, const struct mf_hop *h, const struct mf_mx *mx,
			 size_t nmx, struct mx_host *out, int *loop, struct group *g)
{
	struct mf_err err = { 0 };
	size_t i, k = 0;

	*loop = 0;
	for (i = 0; i < nmx && i < s->max_mx; i++) {
		out[k] = (struct mx_host){ .name = mx[i].host, .pref = mx[i].pref };
		if (mf_dns_addrs(mx[i].host, h->port, &out[k].a, &out[k].n, &err) != MF_OK) {
			reply_all(g, &err, "4.4.3");
			continue;
		}
		if (!host_is_self(s, &out[k], h->port)) {
			k++;
			continue;
		}
		mf_log(LOG_NOTICE, "MX %s (preference %u) is this host: it and the MX hosts of "
		       "preference %u or more are not tried", mx[i].host, mx[i].pref, mx[i].pref);
		*loop = 1;
		for (k++; k > 0 && out[k - 1].pref >= mx[i].pref; k--)
			free(out[k - 1].a);
		break;
	}
	return k;
}

/* Every address of the MX hosts, in order, until one answers; at most MaxMXHosts tried. */
static int try_mx(struct mf_sender *s, const struct mf_hop *h, struct group *g, int msgfd,
		  uint64_t size, const char *sender, const char *domain,
		  const struct mf_mx *mx, size_t nmx)
{
	struct mx_host *hosts = calloc(nmx < s->max_mx ? nmx : s->max_mx, sizeof *hosts);
	struct mf_err err = { 0 };
	size_t nh, i, j, tried = 0;
	int answered = 0, loop;

	if (!hosts) {
		mf_err_set(&err, MF_ENOMEM, "out of memory");
		reply_all(g, &err, "4.3.0");
		return 0;
	}
	nh = mx_resolve(s, h, mx, nmx, hosts, &loop, g);
	if (!nh && loop) {
		mf_err_set(&err, MF_ETEMP, "mail for %s loops back to myself", domain);
		reply_all(g, &err, "4.4.6");
	}
	for (i = 0; i < nh; i++) {
		for (j = 0; j < hosts[i].n && !answered && tried < s->max_mx; j++, tried++) {
			if (smtp_to(s, (struct sockaddr *)&hosts[i].a[j], sizeof hosts[i].a[j],
				    hosts[i].name, h->lmtp, g, msgfd, size, sender, &err) != MF_OK)
				reply_all(g, &err, err_dsn(&err));
			else if (!all_temporary(g))
				answered = 1;
		}
		free(hosts[i].a);
	}
	free(hosts);
	return answered;
}

/* An inet: or lmtp: hop: every address of its host, in order, until one answers. */
static int try_host(struct mf_sender *s, const struct mf_hop *h, struct group *g,
		    int msgfd, uint64_t size, const char *sender)
{
	struct sockaddr_storage *addrs;
	struct mf_err err = { 0 };
	size_t naddr, j;
	int answered = 0;

	if (mf_dns_addrs(h->host, h->port, &addrs, &naddr, &err) != MF_OK) {
		reply_all(g, &err, "4.4.3");
		return 0;
	}
	for (j = 0; j < naddr && !answered; j++) {
		if (smtp_to(s, (struct sockaddr *)&addrs[j], sizeof addrs[j], h->host,
			    h->lmtp, g, msgfd, size, sender, &err) != MF_OK)
			reply_all(g, &err, err_dsn(&err));
		else if (!all_temporary(g))
			answered = 1;
	}
	free(addrs);
	return answered;
}

/* A hop of the network: a unix socket, a host, or the MX hosts of a domain. */
static int try_smtp_hop(struct mf_sender *s, const struct mf_hop *h, struct group *g,
			int msgfd, uint64_t size, const char *sender)
{
	const char *at = strrchr(g->r[0]->addr, '@');
	const char *domain = h->host[0] ? h->host : (at ? at + 1 : "");
	struct mf_mx *mx;
	struct mf_err err = { 0 };
	size_t nmx;
	int answered;

	if (h->kind == MF_HOP_UNIX) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		if (strlen(h->path) >= sizeof un.sun_path) {
			mf_err_set(&err, MF_ECONFIG, "socket path too long: %.200s", h->path);
			reply_all(g, &err, "4.3.5");
			return 0;
		}
		memcpy(un.sun_path, h->path, strlen(h->path) + 1);
		if (smtp_to(s, (struct sockaddr *)&un, sizeof un, h->path, h->lmtp, g, msgfd,
			    size, sender, &err) == MF_OK)
			return 1;
		reply_all(g, &err, err_dsn(&err));
		return 0;
	}
	if (h->kind != MF_HOP_MX)
		return try_host(s, h, g, msgfd, size, sender);
	if (mf_dns_mx(domain, &mx, &nmx, &err) != MF_OK) {
		/* the recipient's domain takes no mail: final; a configured host
		 * that does not resolve is an admin's typo: it defers, never bounces */
		if (err.status == MF_EADDR && h->host[0])
			err.status = MF_ETEMP;
		reply_all(g, &err, err.status == MF_EADDR ? mf_err_dsncode(&err) : "4.4.3");
		return err.status == MF_EADDR;
	}
	answered = try_mx(s, h, g, msgfd, size, sender, domain, mx, nmx);
	free(mx);
	return answered;
}

/* Try one hop; 1 when it gave answers that end this attempt. */
static int try_hop(struct mf_sender *s, const struct mf_hop *h,
		   const struct mf_envelope *env, struct group *g, int msgfd)
{
	const char **addrs;
	char name[PATH_MAX + 32];
	size_t i;

	mf_hop_name(h, name, sizeof name);
	snprintf(g->remote, sizeof g->remote, "%.299s", name);
	switch (h->kind) {
	case MF_HOP_MAILDIR:
		for (i = 0; i < g->n; i++)
			mf_deliver_maildir(h->path, env, g->r[i]->addr, msgfd,
					   s->spool->host, s->mark, &g->reply[i]);
		break;
	case MF_HOP_PIPE:
		addrs = calloc(g->n, sizeof *addrs);
		if (!addrs) {
			mf_reply_set(&g->reply[0], 451, "4.3.0", "out of memory");
			for (i = 1; i < g->n; i++)
				g->reply[i] = g->reply[0];
			return 0;
		}
		for (i = 0; i < g->n; i++)
			addrs[i] = g->r[i]->addr;
		mf_deliver_pipe(h->path, h->args, env, addrs, g->n, msgfd, s->pipe_timeout,
				s->mark, g->reply);
		free(addrs);
		break;
	default:
		return try_smtp_hop(s, h, g, msgfd, env->size, env->sender ? env->sender : "");
	}
	return !all_temporary(g);
}

/* ---- recording outcomes ---- */

static void record(struct mf_sender *s, struct mf_rcpt *r,
		   const struct mf_smtp_reply *rep, const char *remote,
		   const char *id)
{
	if (rep->code == MF_SMTP_NOT_TRIED) {
		/* a session broke before it was offered: no attempt, still due */
		mf_log(LOG_INFO, "%s: to=<%s> relay=%s status=deferred (%s)", id, r->addr,
		       remote, rep->text);
		s->deferred++;
		return;
	}
	mf_envelope_set(&r->reply, rep->text[0] ? rep->text : "no reply");
	mf_envelope_set(&r->remote, remote[0] ? remote : NULL);
	r->attempts++;
	r->last_attempt = s->now;
	r->next_attempt = 0;
	if (rep->code >= 200 && rep->code < 300) {
		r->state = MF_RCPT_DELIVERED;
		s->delivered++;
		mf_log(LOG_INFO, "%s: to=<%s> relay=%s status=sent (%s)", id, r->addr, remote, rep->text);
	} else if (rep->code >= 500) {
		r->state = MF_RCPT_FAILED;
		s->failed++;
		mf_log(LOG_NOTICE, "%s: to=<%s> relay=%s status=bounced (%s)", id, r->addr, remote, rep->text);
	} else if (r->attempts >= s->nintervals) {
		r->state = MF_RCPT_FAILED;
		s->failed++;
		mf_log(LOG_NOTICE, "%s: to=<%s> status=expired after %u attempts (%s)", id,
		       r->addr, r->attempts, rep->text);
	} else {
		r->state = MF_RCPT_DEFERRED;
		r->next_attempt = s->now + s->intervals[r->attempts];
		s->deferred++;
		mf_log(LOG_INFO, "%s: to=<%s> relay=%s status=deferred (%s)", id, r->addr, remote, rep->text);
	}
}

/*
 * A clock set back (by a day, say) would leave the next attempts written
 * before it a day ahead: a next attempt later than now plus its interval is
 * brought back to now plus the interval.  1 when r was changed.
 */
static int clamp_next(const struct mf_sender *s, struct mf_rcpt *r)
{
	int64_t iv;

	if (r->state != MF_RCPT_DEFERRED || !s->nintervals)
		return 0;
	iv = s->intervals[r->attempts < s->nintervals ? r->attempts : s->nintervals - 1];
	if (r->next_attempt <= s->now + iv)
		return 0;
	r->next_attempt = s->now + iv;
	return 1;
}

static int due(const struct mf_sender *s, const struct mf_rcpt *r)
{
	if (r->state == MF_RCPT_PENDING)
		return 1;
	return r->state == MF_RCPT_DEFERRED && (s->force || r->next_attempt <= s->now);
}

static const char *route_of(const struct mf_sender *s, const struct mf_rcpt *r)
{
	return r->route && *r->route ? r->route : mf_conf_str(s->conf, S, s->id, "Address");
}

/* The key of a recipient's delivery group: its route, and -- when the route
 * looks up the recipient's own MX (a bare mx:) -- its domain too. */
static char *group_key(const char *route, const struct mf_hop *hops, size_t n,
		       const char *addr)
{
	const char *at = strrchr(addr, '@');
	struct mf_buf b = { 0 };
	size_t i;

	mf_buf_adds(&b, route);
	for (i = 0; i < n; i++)
		if (hops[i].kind == MF_HOP_MX && !hops[i].host[0]) {
			mf_buf_addf(&b, "\n%s", at ? at + 1 : "");
			break;
		}
	return b.data ? mf_buf_detach(&b) : NULL;
}

/* Deliver the due recipients of env, grouped by route. */
static enum mf_status deliver_all(struct mf_sender *s, struct mf_envelope *env,
				  int msgfd, struct mf_err *err)
{
	struct group g;
	struct mf_hop *hops;
	size_t nhops, i, j, k;
	int *done = calloc(env->nrcpts + 1, sizeof *done);
	char **keys = calloc(env->nrcpts + 1, sizeof *keys);
	enum mf_status st = MF_OK;

	g.r = calloc(env->nrcpts + 1, sizeof *g.r);
	g.reply = calloc(env->nrcpts + 1, sizeof *g.reply);
	if (!done || !keys || !g.r || !g.reply) {
		st = mf_err_set(err, MF_ENOMEM, "out of memory");
		goto out;
	}
	/* every route is checked before anything is sent: a config error must not
	 * stop us half-way, after some recipients were delivered but not recorded */
	for (i = 0; i < env->nrcpts; i++) {
		if (!due(s, &env->rcpts[i]))
			continue;
		if ((st = mf_hop_parse_list(route_of(s, &env->rcpts[i]),
					    mf_conf_str(s->conf, S, s->id, "Method"),
					    mf_conf_str(s->conf, S, s->id, "Options"),
					    &hops, &nhops, err)))
			goto out;
		keys[i] = group_key(route_of(s, &env->rcpts[i]), hops, nhops,
				    env->rcpts[i].addr);
		free(hops);
		if (!keys[i]) {
			st = mf_err_set(err, MF_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < env->nrcpts; i++) {
		if (done[i] || !due(s, &env->rcpts[i]))
			continue;
		g.n = 0;
		for (j = i; j < env->nrcpts; j++)
			if (!done[j] && due(s, &env->rcpts[j]) && !strcmp(keys[i], keys[j])) {
				g.r[g.n++] = &env->rcpts[j];
				done[j] = 1;
			}
		st = mf_hop_parse_list(route_of(s, &env->rcpts[i]),
				       mf_conf_str(s->conf, S, s->id, "Method"),
				       mf_conf_str(s->conf, S, s->id, "Options"), &hops, &nhops, err);
		if (st)
			goto out; /* checked above; only memory can fail here */
		memset(g.reply, 0, env->nrcpts * sizeof *g.reply);
		g.remote[0] = '\0';
		for (k = 0; k < nhops && !try_hop(s, &hops[k], env, &g, msgfd); k++)
			;
		for (k = 0; k < g.n; k++)
			record(s, g.r[k], &g.reply[k], g.remote, env->id ? env->id : "?");
		free(hops);
	}
out:
	for (i = 0; keys && i < env->nrcpts; i++)
		free(keys[i]);
	free(keys);
	free(done);
	free(g.r);
	free(g.reply);
	return st;
}

/* ---- the entry's way on ---- */

static void run_notify(struct mf_sender *s, const char *path)
{
	posix_spawn_file_actions_t fa;
	const char *argv[8];
	int n = 0, status, rc;
	pid_t pid;

	argv[n++] = s->notify_prog;
	argv[n++] = "-S";
	argv[n++] = s->spool->root;
	if (s->conf_path) {
		argv[n++] = "-c";
		argv[n++] = s->conf_path;
	}
	argv[n++] = "--";
	argv[n++] = path;
	argv[n] = NULL;
	/* our stdout carries only our entries' paths: the DSN's path is not one */
	fflush(stdout);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, s->notify_prog, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		mf_log(LOG_ERR, "cannot run %s: %s; the DSN is left for mf-notify -q",
		       s->notify_prog, strerror(rc));
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		mf_log(LOG_ERR, "%s failed for %s; the DSN is left for mf-notify -q",
		       s->notify_prog, path);
}

static int owns(const struct mf_sender *s, const struct mf_envelope *env)
{
	if (s->id)
		return env->receiver_id && !strcmp(env->receiver_id, s->id);
	return !env->receiver_id || !mf_conf_has_section(s->conf, S, env->receiver_id);
}

static int all_delivered(const struct mf_envelope *env)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state != MF_RCPT_DELIVERED)
			return 0;
	return 1;
}

static enum mf_status move_on(struct mf_sender *s, struct mf_entry *e,
			      const struct mf_envelope *env, char *newpath,
			      size_t sz, struct mf_err *err)
{
	size_t i, failed = 0, open = 0;
	enum mf_status st;

	for (i = 0; i < env->nrcpts; i++) {
		failed += env->rcpts[i].state == MF_RCPT_FAILED;
		open += env->rcpts[i].state == MF_RCPT_PENDING ||
			env->rcpts[i].state == MF_RCPT_DEFERRED;
	}
	if (!open && !failed) {
		mf_log(LOG_INFO, "%s: delivered to every recipient, removed", e->id);
		newpath[0] = '\0';
		/* the directory is synced once at the end of the run (mf_send_sync) */
		snprintf(s->unsynced, sizeof s->unsynced, "%s", e->queue);
		return mf_entry_remove_nosync(e, err);
	}
	st = mf_entry_move(e, open ? "out" : "failed", err);
	if (st)
		return st;
	snprintf(newpath, sz, "%s", e->path);
	if (failed && s->send_dsn)
		run_notify(s, e->path);
	return MF_OK;
}

static enum mf_status send_in(struct mf_sender *s, const char *queue,
			      const char *id, char *newpath, size_t sz,
			      struct mf_err *err);

enum mf_status mf_send_entry(struct mf_sender *s, const char *name,
			     char *newpath, size_t sz, struct mf_err *err)
{
	char queue[16], sub[4], id[MF_ID_MAX];
	enum mf_status st;

	newpath[0] = '\0';
	if ((st = mf_spool_find(s->spool, NULL, name, queue, sizeof queue, sub, id, err)))
		return st;
	return send_in(s, queue, id, newpath, sz, err);
}

/*
 * Full disk.  A delivery whose outcome cannot be written would be made again
 * on every run, so: no connection is made unless the file system has room to
 * write the envelope again (RECORD_ROOM plus 1 KiB a recipient; the intake
 * keeps [General] MinFreeSpace free for this); and when writing it fails
 * after some recipients took the mail, the entry is held in quarantine/ --
 * a rename needs no room -- for the admin to requeue, instead of being
 * released to send the same copies again.  Either way the caller ends the
 * queue run (MF_ENOSPC): the next entry would fare no better.
 */
#define RECORD_ROOM 65536

static enum mf_status room_to_record(const struct mf_entry *e,
				     const struct mf_envelope *env, struct mf_err *err)
{
	if (mf_intake_room(e->path, RECORD_ROOM + (uint64_t)env->nrcpts * 1024, err) == MF_OK)
		return MF_OK;
	mf_err_prefix(err, "not delivered, no room to record the outcome");
	return err->status;
}

static enum mf_status hold_unrecorded(struct mf_entry *e, unsigned sent,
				      char *newpath, size_t sz, struct mf_err *err)
{
	struct mf_err merr;

	if (!sent) {
		mf_entry_release(e, NULL);
		return err->status;
	}
	mf_log(LOG_ERR, "%s: delivered to %u recipient(s), but %s (#%s): held in quarantine/ "
	       "so that it is not sent again; requeue it by hand once there is room",
	       e->id, sent, err->msg, mf_err_dsncode(err));
	if (mf_entry_move(e, "quarantine", &merr) == MF_OK)
		snprintf(newpath, sz, "%s", e->path);
	else /* left claimed in cur/: only the stalled-entry recovery sends it again */
		mf_log(LOG_ERR, "%s: %s; left in cur/", e->id, merr.msg);
	return err->status;
}

/* Claim QUEUE/new/ID and deliver it. */
static enum mf_status send_in(struct mf_sender *s, const char *queue,
			      const char *id, char *newpath, size_t sz,
			      struct mf_err *err)
{
	struct mf_envelope env;
	struct mf_entry e;
	enum mf_status st;
	unsigned sent;
	size_t i;
	int msgfd;

	newpath[0] = '\0';
	s->now = time(NULL);
	if ((st = mf_entry_claim(s->spool, queue, id, &e, err)))
		return st;
	mf_envelope_init(&env);
	st = mf_entry_read_envelope(&e, &env, err);
	msgfd = -1;
	if (st == MF_OK)
		st = mf_entry_open_file(&e, "message", O_RDONLY, &msgfd, err);
	if (st == MF_ECORRUPT) {
		/* retrying cannot mend it: keep it for the admin, out of the way */
		if ((st = mf_entry_set_aside(&e, err, err)) == MF_OK && e.path[0])
			snprintf(newpath, sz, "%s", e.path);
		mf_entry_close(&e);
		mf_envelope_free(&env);
		return st;
	}
	if (st == MF_OK && !owns(s, &env)) {
		mf_log(LOG_INFO, "%s: received by %s, left to its own sender", id,
		       env.receiver_id ? env.receiver_id : "the default receiver");
		close(msgfd);
		st = mf_entry_release(&e, err);
		snprintf(newpath, sz, "%s/%s/new/%s", s->spool->root, queue, id);
		mf_envelope_free(&env);
		return st;
	}
	for (i = 0; st == MF_OK && i < env.nrcpts; i++)
		if (clamp_next(s, &env.rcpts[i]))
			mf_log(LOG_NOTICE, "%s: to=<%s> next attempt moved back: the clock went back",
			       id, env.rcpts[i].addr);
	if (st == MF_OK)
		st = room_to_record(&e, &env, err);
	if (st == MF_OK)
		st = make_mark(s, &env, msgfd, err);
	sent = s->delivered;
	if (st == MF_OK)
		st = deliver_all(s, &env, msgfd, err);
	sent = s->delivered - sent;
	if (msgfd >= 0)
		close(msgfd);
	/* outcomes are recorded before the entry moves: a crash here retries only
	 * the recipients that were not yet answered.  An entry delivered to
	 * everyone is removed at once instead: writing its envelope first would
	 * close no window (a crash before the removal sends it again either way). */
	if (st == MF_OK && !all_delivered(&env) &&
	    (st = mf_entry_write_envelope(&e, &env, err)))
		st = hold_unrecorded(&e, sent, newpath, sz, err);
	else if (st == MF_OK)
		st = move_on(s, &e, &env, newpath, sz, err);
	else if (e.dirfd >= 0)
		mf_entry_release(&e, NULL);
	mf_entry_close(&e);
	mf_envelope_free(&env);
	return st;
}

struct queue_ctx {
	struct mf_sender *s;
	FILE *out;
	enum mf_status st;
	struct mf_err *err;
};

static int entry_due(struct mf_sender *s, const char *id)
{
	struct mf_envelope env;
	struct mf_entry e;
	enum mf_status st;
	size_t i;
	int d = 0;

	if (mf_entry_open(s->spool, "out", "new", id, &e, NULL))
		return 0;
	mf_envelope_init(&env);
	st = mf_entry_read_envelope(&e, &env, NULL);
	/* corrupt or unreadable: due at once, send_in sets it aside */
	d = st == MF_ECORRUPT;
	/* an entry whose schedule the clock made wrong is taken to be rewritten */
	if (st == MF_OK && owns(s, &env))
		for (i = 0; i < env.nrcpts && !d; i++)
			d = due(s, &env.rcpts[i]) || clamp_next(s, &env.rcpts[i]);
	mf_envelope_free(&env);
	mf_entry_close(&e);
	return d;
}

static int queue_one(struct mf_spool *sp, const char *queue, const char *sub,
		     const char *id, void *vctx)
{
	struct queue_ctx *c = vctx;
	char newpath[PATH_MAX];
	struct mf_err err;

	(void)sp;
	(void)queue;
	(void)sub;
	if (c->s->stop && *c->s->stop)
		return 1;
	c->s->now = time(NULL);
	if (!entry_due(c->s, id))
		return 0;
	if (send_in(c->s, "out", id, newpath, sizeof newpath, &err) == MF_OK) {
		if (newpath[0] && c->out)
			fprintf(c->out, "%s\n", newpath);
	} else if (err.status != MF_EBUSY && err.status != MF_ENOENT) {
		mf_log(LOG_ERR, "%s (#%s)", err.msg, mf_err_dsncode(&err));
		if (c->st == MF_OK) {
			c->st = err.status;
			*c->err = err;
		}
		if (err.status == MF_ENOSPC) {
			mf_log(LOG_ERR, "the spool is full: queue run ended");
			return 1;
		}
	}
	return 0;
}

enum mf_status mf_send_queue(struct mf_sender *s, FILE *out, struct mf_err *err)
{
	struct queue_ctx c = { s, out, MF_OK, err };
	enum mf_status st;

	if ((st = mf_queue_init(s->spool, "out", err)) ||
	    (st = mf_spool_recover(s->spool, "out", s->stalled, MF_TMP_MAX_AGE, NULL, NULL, err)) ||
	    (st = mf_spool_sweep(s->spool, MF_TMP_MAX_AGE, err)) ||
	    (st = mf_spool_each(s->spool, "out", "new", queue_one, &c, err)) ||
	    (st = mf_send_sync(s, err)))
		return st;
	return c.st;
}
