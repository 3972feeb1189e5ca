/* SPDX-License-Identifier: MIT */
/* mf-send's work: deliver spool entries to their next hops, retry, give up. */
#ifndef MF_SEND_H
#define MF_SEND_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "mf_conf.h"
#include "mf_mark.h"
#include "mf_smtp.h"
#include "mf_spool.h"

/*
 * One delivery pass over one entry (mf_send_entry) or over every due entry of
 * out/ (mf_send_queue):
 *   - the entry is claimed (new/ -> cur/, locked); one that another process
 *     holds is skipped;
 *   - each recipient that is pending, or deferred and due, is delivered to its
 *     Route (set by mf-route) or else to [Sender] Address; recipients with the
 *     same next hops go together; a failover list is tried in order, moving on
 *     when a hop cannot be reached or answers only 4xx;
 *   - each answer is written to the recipient before anything else happens:
 *     2xx delivered, 5xx failed, 4xx (and every failure to reach a hop)
 *     deferred with the next attempt from SendingIntervals -- or failed when
 *     the schedule is used up;
 *   - then the entry moves on: every recipient delivered -> removed; every
 *     recipient final but some failed -> failed/ (and mf-notify is run for a
 *     DSN when SendDSN is on); otherwise -> out/ to wait for its next attempt.
 * A recipient once delivered is never sent again.
 *
 * With UseSecureHash, every copy handed on carries a header (SecureHashHeader)
 * with an HMAC over the message's identity, keyed by the secret in
 * SecureHashFile (see mf_mark.h): the next hop can tell mail mf already
 * scanned from forged claims of it.
 *
 * mx: hops (RFC 5321 5.1, as Postfix does): at most MaxMXHosts MX hosts, in
 * order of preference, are looked up, and at most MaxMXHosts addresses
 * tried.  When one resolves to this host (mf_dns_is_self) -- and is not in
 * MXLoopExempt -- it and every host of the same or a worse preference are
 * dropped: we are that MX, and sending there would loop.  When nothing is
 * left the recipients are deferred with 4.4.6 "mail for DOMAIN loops back
 * to myself".  inet:, lmtp: and unix: hops are taken as the admin wrote them.
 *
 * Unique ids: a sender with an id takes only entries received with that id; the
 * default sender (no id) takes the others -- except those whose id has its own
 * [Sender ID] section, which belong to that sender.
 */
struct mf_sender {
	struct mf_spool *spool;
	const struct mf_conf *conf;
	const char *id;
	const char *conf_path;      /* for mf-notify, NULL when defaulted */
	int64_t intervals[64];
	size_t nintervals;
	int64_t pipe_timeout;
	int64_t stalled;
	int send_dsn;
	char notify_prog[4096];
	char host[256];
	struct mf_smtp_opts smtp;
	char *auth_pass;            /* read from AuthPasswordFile, wiped at the end */
	struct mf_mark_key mark_key; /* UseSecureHash: the HMAC secret, else empty */
	char mark_name[201];        /* SecureHashHeader */
	char mark[600];             /* this entry's mark header line, or "" */
	int force;                  /* deliver deferred recipients now */
	volatile sig_atomic_t *stop; /* set by a signal: end the queue run */
	time_t now;
	struct mf_smtp *cached;     /* an open session kept for the next entry */
	char cached_key[600];
	unsigned delivered, deferred, failed;
	char unsynced[16];          /* queue whose cur/ has unsynced removals */
	unsigned max_mx;            /* MaxMXHosts: MX hosts looked up, addresses tried */
	struct sockaddr_storage exempt[16]; /* MXLoopExempt: not ourselves (port 0: any) */
	size_t nexempt;
};

enum mf_status mf_send_setup(struct mf_sender *s, struct mf_spool *sp,
			     const struct mf_conf *c, const char *id,
			     struct mf_err *err);
/* --check-config: the next hops of [Sender] (and [Sender id]) parse, the
 * password file can be read, the resolver address is good. */
enum mf_status mf_send_check(struct mf_spool *sp, const struct mf_conf *c,
			     const char *id, struct mf_err *err);
/* name: an id or a path of an entry in any queue.  newpath receives where the
 * entry is now ("" when it was delivered and removed, or skipped). */
enum mf_status mf_send_entry(struct mf_sender *s, const char *name,
			     char *newpath, size_t newpathsz, struct mf_err *err);
/* Deliver every due entry of out/new, printing new paths on out (may be NULL). */
enum mf_status mf_send_queue(struct mf_sender *s, FILE *out, struct mf_err *err);
/* Make the removals of delivered entries durable (one directory fsync for
 * many entries); mf_send_queue does it at its end, a caller of
 * mf_send_entry before it exits. */
enum mf_status mf_send_sync(struct mf_sender *s, struct mf_err *err);
/* Close a kept session (between queue runs); the sender stays usable. */
void mf_send_idle(struct mf_sender *s);
void mf_send_end(struct mf_sender *s);

#endif
