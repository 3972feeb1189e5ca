/* SPDX-License-Identifier: MIT */
/* Queue administration: listing entries and requeueing failed ones. */
#ifndef MF_QUEUE_H
#define MF_QUEUE_H

#include <stdio.h>
#include <time.h>

#include "mf_spool.h"

/*
 * mf_queue_list() prints the entries of one queue (or of every queue when
 * queue is NULL) like mailq: one line per entry with queue, id ('*' after
 * it when a process has it claimed), age, size and sender, then one line per
 * recipient with its state, attempts, next attempt and last reply, and a
 * closing count.  An entry whose envelope cannot be read is listed with the
 * reason instead of being skipped.  *count receives the number of entries.
 *
 * mf_queue_requeue() moves one entry (an id or a path, which must be in
 * failed/new) to out/new, resetting its failed and deferred recipients to
 * pending with no attempts, so that the next queue run tries them at once.
 * Delivered recipients stay delivered.  e->path names the new place.
 */
enum mf_status mf_queue_list(struct mf_spool *sp, const char *queue, FILE *out,
			     time_t now, unsigned *count, struct mf_err *err);
enum mf_status mf_queue_requeue(struct mf_spool *sp, const char *name,
				struct mf_entry *e, struct mf_err *err);

#endif
