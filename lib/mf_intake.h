/* SPDX-License-Identifier: MIT */
/* Take one message from a file descriptor into a new spool entry. */
#ifndef MF_INTAKE_H
#define MF_INTAKE_H

#include <stdint.h>

#include "mf_envelope.h"
#include "mf_spool.h"

/*
 * mf_intake() streams the message from fd into QUEUE/tmp/ID/message in
 * fixed-size blocks (memory does not depend on the message size), turning
 * CRLF into LF, dropping a leading mbox "From " line, and adding a final LF
 * when the last line has none.  It then fills env->id, arrival (when 0) and
 * size, writes the envelope, and commits the entry: on MF_OK the entry is in
 * QUEUE/new/ and durable, and e->path names it.  On any failure nothing is
 * left in new/ (the tmp/ entry is removed).
 *
 * max_size (0 = no limit) counts the bytes stored; a larger message fails with
 * MF_ETOOBIG without reading the rest of its input.  max_received (0 = no
 * limit): a message whose header holds that many Received: lines or more
 * fails with MF_EDATA, DSN 5.4.6 "too many hops" (RFC 5321 6.3), also
 * without reading the rest.
 *
 * min_free (0 = none): the free space the spool's file system must keep (for
 * mf-send to record what it delivered, see mf_send.h); with less, the intake
 * fails with MF_ENOSPC (4.3.1) before it reads anything.
 */
struct mf_intake_opts {
	uint64_t max_size;
	uint64_t min_free;
	unsigned max_received;
	int keep_from_line; /* do not drop a leading "From " line */
};

/* MF_OK when the file system of dir has need bytes free for an unprivileged
 * user (statvfs f_bavail); else MF_ENOSPC saying how much there is. */
enum mf_status mf_intake_room(const char *dir, uint64_t need, struct mf_err *err);

enum mf_status mf_intake(struct mf_spool *sp, const char *queue, int fd,
			 struct mf_envelope *env,
			 const struct mf_intake_opts *opts, struct mf_entry *e,
			 struct mf_err *err);

#endif
