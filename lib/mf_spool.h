/* SPDX-License-Identifier: MIT */
/* The spool: queues of maildir-style entries (see mf-spool(5)). */
#ifndef MF_SPOOL_H
#define MF_SPOOL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mf_status.h"

struct mf_envelope;

/*
 * Layout: ROOT/QUEUE/{tmp,new,cur}/ID/{message,envelope}.  QUEUE is one of
 * "in", "out", "failed", "quarantine", "corrupt"; queues are created on first
 * use; the root must exist and not be world-writable; its owner is the
 * spool's owner.  Queue directories must be owned by the spool's owner (or
 * by the user mf runs as, which [General] User may make another) and not be
 * world-writable (else MF_ETEMP, naming the path).
 * ID is a maildir-style unique name, TIME.MusecPpidQcount.HOST (mf_id_valid).
 *
 * Trust: nothing found in the spool is trusted.  Every file of an entry is
 * opened with mf_entry_open_file() -- never through a symlink, never blocking
 * on a FIFO, and only a regular file of the spool's owner (or of the user mf
 * runs as) with one link is used; anything else is MF_ECORRUPT, as is a missing file.  An entry that cannot
 * be trusted (an MF_ECORRUPT from the files or the envelope parser) is set aside
 * with mf_entry_set_aside() into corrupt/, never delivered in part; names in a
 * queue that are not entries mf made (a bad name, a symlink, a FIFO) are set
 * aside by the recovery under a fresh name.
 *
 * Life of an entry: mf_entry_create() makes tmp/ID; the caller writes its
 * files there with mf_entry_create_file() and mf_entry_write_envelope();
 * mf_entry_commit() fsyncs those files and the entry directory and renames
 * tmp/ID to new/ID -- only then is the entry durable.  (A file written
 * through plain mf_entry_openat() is the caller's to fsync.)  mf_entry_claim() locks new/ID (flock on the entry
 * directory) and renames it to cur/ID; the lock is held until the entry is
 * moved on (mf_entry_move), put back (mf_entry_release), removed or closed.
 * mf_spool_recover() puts back cur/ entries whose lock is free and whose claim
 * is older than the stalled interval, and removes tmp/ leftovers.
 * Every rename that must survive a crash is followed by an fsync of the
 * target directory (on the journalling file systems a spool lives on, one
 * transaction holds both directory changes of a rename), so after a crash an
 * entry is in exactly one place.
 *
 * Errors: I/O failures are MF_EIO/MF_ENOSPC (temporary); an entry claimed by
 * another process is MF_EBUSY; a name that is not an entry is MF_ENOENT.
 */

#define MF_ID_MAX 200
/* The longest spool root: ROOT/QUEUE/SUB/ID/FILE must fit in PATH_MAX. */
#define MF_SPOOL_ROOT_MAX (PATH_MAX - 16 - 4 - MF_ID_MAX - 32)
/* tmp/ leftovers older than this are removed (the maildir rule). */
#define MF_TMP_MAX_AGE (36 * 3600)
/* Where untrusted entries are set aside for the admin (mf-inject -l corrupt). */
#define MF_CORRUPT_QUEUE "corrupt"

struct mf_spool {
	char *root;
	char host[64];
	unsigned counter;
	unsigned checked;     /* queue directories found real (not symlinks) */
	uid_t uid;            /* owner of the root (see the trust rules above) */
	int async_remove;     /* mf_spool_remove_async() */
	struct mf_reaper *reaper;
};

#define MF_ENTRY_FILES 4

struct mf_entry {
	struct mf_spool *spool;
	char queue[16];
	char sub[4];          /* "tmp", "new" or "cur" */
	char id[MF_ID_MAX];
	char path[PATH_MAX];  /* ROOT/QUEUE/SUB/ID */
	int dirfd;            /* the entry directory, -1 when closed */
	int locked;
	int files[MF_ENTRY_FILES]; /* files of a tmp/ entry, synced by the commit */
	int nfiles;
};

enum mf_status mf_spool_open(const char *root, const char *hostname,
			     struct mf_spool *sp, struct mf_err *err);
void mf_spool_close(struct mf_spool *sp);

/* Whether q names a queue; the list of queues, NULL-terminated. */
int mf_queue_valid(const char *q);
extern const char *const mf_queues[];
/* Whether id is an entry name as mf makes them (TIME.MusecPpidQcount.HOST,
 * HOST of letters, digits, '.', '-', '_'; shorter than MF_ID_MAX). */
int mf_id_valid(const char *id);
enum mf_status mf_queue_init(struct mf_spool *sp, const char *queue,
			     struct mf_err *err);

enum mf_status mf_entry_create(struct mf_spool *sp, const char *queue,
			       struct mf_entry *e, struct mf_err *err);
/* openat() a file inside the entry (O_CLOEXEC|O_NOFOLLOW added, mode 0600);
 * -1 + errno.  To read or rewrite an existing file use mf_entry_open_file(). */
int mf_entry_openat(struct mf_entry *e, const char *name, int flags);
/*
 * Open an existing file of the entry (flags O_RDONLY or O_RDWR, O_CREAT is
 * dropped): with O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC|O_NOCTTY, then fstat -- it
 * must be a regular file owned by the spool's owner (or euid), one link --
 * then O_NONBLOCK is cleared (unless flags asked for it).  *fd is the file or
 * -1.  A missing file, a symlink, a FIFO or device, a foreign file or a hard
 * link is MF_ECORRUPT ("ENTRY/NAME: a symlink"): the entry is corrupt.
 */
enum mf_status mf_entry_open_file(struct mf_entry *e, const char *name,
				  int flags, int *fd, struct mf_err *err);
/* Create a file in a tmp/ entry for writing (O_CREAT|O_EXCL|O_NOFOLLOW; a
 * stale one of that name is unlinked first, never followed).  The fd belongs to the entry:
 * do not close it; the commit flushes all such files together (one journal
 * commit instead of one per file) and closes them, the abort closes them. */
int mf_entry_create_file(struct mf_entry *e, const char *name);
enum mf_status mf_entry_commit(struct mf_entry *e, struct mf_err *err);
/* Remove a tmp/ entry that will not be committed; always succeeds or logs. */
void mf_entry_abort(struct mf_entry *e);

/* Claim QUEUE/new/ID; MF_EBUSY when another process has it, MF_ENOENT if gone. */
enum mf_status mf_entry_claim(struct mf_spool *sp, const char *queue,
			      const char *id, struct mf_entry *e,
			      struct mf_err *err);
/* Move a claimed entry to QUEUE/new/ID (another queue, or its own). */
enum mf_status mf_entry_move(struct mf_entry *e, const char *queue,
			     struct mf_err *err);
enum mf_status mf_entry_release(struct mf_entry *e, struct mf_err *err);
enum mf_status mf_entry_remove(struct mf_entry *e, struct mf_err *err);
/* Removal first renames the entry into QUEUE/tmp/trash.ID (a crash leaves
 * trash for the recovery), then empties and removes it there (or has the
 * thread do it, see mf_spool_remove_async()).
 * Remove without the directory fsync; the caller calls mf_queue_sync() for
 * QUEUE/SUB before it reports the removals as done (a queue runner does it
 * once per run).  Until then a power loss may bring the entry back: a
 * repeated delivery, never a lost one. */
enum mf_status mf_entry_remove_nosync(struct mf_entry *e, struct mf_err *err);
enum mf_status mf_queue_sync(struct mf_spool *sp, const char *queue,
			     const char *sub, struct mf_err *err);
/* Whether NAME (in a queue's tmp/) is trash: TRASH.ID, a removed entry whose
 * files are being freed.  Never an entry; the recovery removes it at once. */
int mf_trash_name(const char *name);
/* on: a removal frees the trash in a thread of this process (started at the
 * first removal; a forked child starts its own) instead of on the caller's
 * path; off: back to inline removal, after waiting for the thread. */
void mf_spool_remove_async(struct mf_spool *sp, int on);
/* Wait until the thread has freed all the trash handed to it, and end it
 * (mf_spool_close() does too). */
void mf_spool_reap_wait(struct mf_spool *sp);
void mf_entry_close(struct mf_entry *e);

/* Open an entry read-only where it is (for listing); no lock taken. */
enum mf_status mf_entry_open(struct mf_spool *sp, const char *queue,
			     const char *sub, const char *id,
			     struct mf_entry *e, struct mf_err *err);
/* Read or atomically replace (write, fsync, rename, fsync dir) the envelope.
 * The reader opens it with mf_entry_open_file(); a corrupt envelope is
 * MF_ECORRUPT.  The writer creates envelope.new exclusively, after unlinking a
 * stale one, so a planted link there is removed, never written through. */
enum mf_status mf_entry_read_envelope(struct mf_entry *e,
				      struct mf_envelope *env,
				      struct mf_err *err);
enum mf_status mf_entry_write_envelope(struct mf_entry *e,
				       const struct mf_envelope *env,
				       struct mf_err *err);
/* Size of the entry's message file in bytes, or -1 with errno. */
int64_t mf_entry_message_size(struct mf_entry *e);

/* Call fn for each entry in QUEUE/SUB (sub "new" or "cur"), in name order;
 * names mf_id_valid() refuses are skipped (the recovery sets them aside).
 * mf_spool_each_name() calls fn for every name not starting with '.', valid
 * or not (a listing shows them, escaped). */
typedef int (*mf_spool_fn)(struct mf_spool *sp, const char *queue,
			   const char *sub, const char *id, void *ctx);
enum mf_status mf_spool_each(struct mf_spool *sp, const char *queue,
			     const char *sub, mf_spool_fn fn, void *ctx,
			     struct mf_err *err);
enum mf_status mf_spool_each_name(struct mf_spool *sp, const char *queue,
				  const char *sub, mf_spool_fn fn, void *ctx,
				  struct mf_err *err);

/*
 * Set an entry that cannot be trusted aside: move it to corrupt/new and log
 * why (one line, escaped: why's message and code, "set aside in corrupt/").
 * An entry holding neither message nor envelope -- a removal cut short by a
 * crash in an older version -- is removed instead.  The entry is closed.
 */
enum mf_status mf_entry_set_aside(struct mf_entry *e, const struct mf_err *why,
				  struct mf_err *err);

/* Put QUEUE/cur/ID back into new/ if no process holds its claim (a tool that
 * died); MF_EBUSY while one does. */
enum mf_status mf_entry_put_back_stalled(struct mf_spool *sp, const char *queue,
					 const char *id, struct mf_err *err);

/* Set aside what in QUEUE/{new,cur,tmp} is no entry (a name mf_id_valid()
 * refuses, anything but a directory of the spool's owner), put back stalled
 * claims (older than stalled seconds, lock free; none when stalled < 0) and
 * remove tmp/ entries older than tmp_age seconds; counts what was done. */
enum mf_status mf_spool_recover(struct mf_spool *sp, const char *queue,
				int64_t stalled, int64_t tmp_age,
				unsigned *put_back, unsigned *removed,
				struct mf_err *err);

/* mf_spool_recover(queue, -1, tmp_age) for every queue that exists: what a
 * queue runner does for the queues no other tool runs. */
enum mf_status mf_spool_sweep(struct mf_spool *sp, int64_t tmp_age,
			      struct mf_err *err);

/* Resolve what a user typed -- an ID, or a path to an entry -- to its place.
 * A path must lie inside the spool, in QUEUE/new or QUEUE/cur; an ID is looked
 * for in queue (or every queue when queue is NULL). */
enum mf_status mf_spool_find(struct mf_spool *sp, const char *queue,
			     const char *name, char *qout, size_t qsz,
			     char *subout, char *idout, struct mf_err *err);

#endif
