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
 * MF_ETOOBIG without reading the rest of its input.
 */
struct mf_intake_opts {
	uint64_t max_size;
	int keep_from_line; /* do not drop a leading "From " line */
};

enum mf_status mf_intake(struct mf_spool *sp, const char *queue, int fd,
			 struct mf_envelope *env,
			 const struct mf_intake_opts *opts, struct mf_entry *e,
			 struct mf_err *err);

#endif
