/* SPDX-License-Identifier: MIT */
/* Unit tests for the spool: entries, claims, recovery, listing, lookup (mf_spool). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mf_envelope.h"
#include "mf_log.h"
#include "mf_queue.h"
#include "mf_spool.h"
#include "tap.h"
#include "util.h"

static char root[PATH_MAX];


static int write_message(struct mf_entry *e, const char *body)
{
	int fd = mf_entry_openat(e, "message", O_WRONLY | O_CREAT | O_EXCL);

	if (fd < 0)
		return -1;
	if (t_write_all(fd, body, strlen(body)) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void small_env(struct mf_envelope *env, const char *id)
{
	mf_envelope_init(env);
	mf_envelope_set(&env->id, id);
	mf_envelope_set(&env->sender, "s@example.org");
	env->arrival = 1795431256;
	mf_envelope_add_rcpt(env, "r@example.org");
}

/* A committed entry in QUEUE/new; its id goes to id. */
static int make_entry(struct mf_spool *sp, const char *queue, const char *body, char *id)
{
	struct mf_entry e;
	struct mf_envelope env;
	struct mf_err err;
	int rc = -1;

	if (mf_entry_create(sp, queue, &e, &err) != MF_OK) {
		tap_diag("create: %s", err.msg);
		return -1;
	}
	small_env(&env, e.id);
	env.size = strlen(body);
	if (write_message(&e, body) == 0 && mf_entry_write_envelope(&e, &env, &err) == MF_OK &&
	    mf_entry_commit(&e, &err) == MF_OK)
		rc = 0;
	else
		tap_diag("make_entry: %s", err.msg);
	snprintf(id, MF_ID_MAX, "%s", e.id);
	mf_envelope_free(&env);
	mf_entry_close(&e);
	return rc;
}

/* Fork a child that tries to claim QUEUE/new/ID; its status code. */
static int child_claim(struct mf_spool *sp, const char *queue, const char *id)
{
	pid_t pid = fork();
	struct mf_entry e;
	struct mf_err err;

	if (pid == 0)
		_exit((int)mf_entry_claim(sp, queue, id, &e, &err));
	return t_wait(pid);
}

/*
 * A child that holds something and waits until told to go.  what 'c': it
 * claims QUEUE/new/ID; 'f': it flocks the directory path directly.  Returns
 * the pid; *go is the pipe end to close to let it exit; *result what it got.
 */
static pid_t child_hold(struct mf_spool *sp, char what, const char *queue,
			const char *id, const char *path, int *go, int *result)
{
	int ready[2], gate[2];
	unsigned char r = 255;
	pid_t pid;

	if (pipe(ready) < 0 || pipe(gate) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct mf_entry e;
		struct mf_err err;
		unsigned char st;
		char c;

		close(ready[0]);
		close(gate[1]);
		if (what == 'c') {
			st = (unsigned char)mf_entry_claim(sp, queue, id, &e, &err);
		} else {
			int fd = open(path, O_RDONLY | O_DIRECTORY);
			st = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1;
		}
		if (t_write_all(ready[1], (char *)&st, 1) < 0)
			_exit(3);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0); /* a crash: nothing released by hand */
	}
	close(ready[1]);
	close(gate[0]);
	while (read(ready[0], &r, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
	*go = gate[1];
	*result = r;
	return pid;
}

static void test_open(struct mf_spool *sp)
{
	struct mf_spool bad;
	struct mf_err err;
	struct mf_entry e;
	enum mf_status st;

	st = mf_spool_open(pathf("%s/no-such-root", tap_tmpdir()), "h", &bad, &err);
	ok(st != MF_OK && mf_status_is_temporary(st) && strstr(err.msg, "no-such-root"),
	   "mf_spool_open on a missing root fails (temporary), naming it");
	ok(!t_exists(pathf("%s/no-such-root", tap_tmpdir())), "a missing root is not created");
	t_write_str(pathf("%s/plainfile", tap_tmpdir()), "x");
	st = mf_spool_open(pathf("%s/plainfile", tap_tmpdir()), "h", &bad, &err);
	ok(st != MF_OK && strstr(err.msg, "not a directory"), "a root that is a file fails");

	st = mf_spool_open(root, "mx1.example.org", sp, &err);
	if (!is_int(st, MF_OK, "mf_spool_open on an existing root"))
		tap_diag("%s", err.msg);

	st = mf_spool_open(root, "evil/host:name x", &bad, &err);
	ok(st == MF_OK && !strcmp(bad.host, "evil_host_name_x"),
	   "the host part is made safe for a file name");
	if (st == MF_OK && mf_entry_create(&bad, "in", &e, &err) == MF_OK) {
		ok(mf_id_valid(e.id) && !strchr(e.id, ':') && strstr(e.id, "evil_host_name_x"),
		   "an id made with that host is a valid entry name");
		mf_entry_abort(&e);
	} else {
		ok(0, "an id made with that host is a valid entry name");
	}
	mf_spool_close(&bad);

	ok(mf_queue_valid("in") && mf_queue_valid("out") && mf_queue_valid("failed") &&
	   mf_queue_valid("quarantine"), "the four queues are valid");
	ok(!mf_queue_valid("tmp") && !mf_queue_valid("") && !mf_queue_valid("../in") &&
	   !mf_queue_valid("IN"), "other names are not queues");
	ok(mf_id_valid("1795431256.M1P2Q3.host") && !mf_id_valid("") && !mf_id_valid(".x") &&
	   !mf_id_valid("..") && !mf_id_valid("a/b"), "mf_id_valid");
	{
		char id[MF_ID_MAX + 1];
		memset(id, 'i', MF_ID_MAX);
		memcpy(id, "1.M1P1Q1.", 9);
		id[MF_ID_MAX] = '\0';
		ok(!mf_id_valid(id), "an id of MF_ID_MAX characters is refused");
		id[MF_ID_MAX - 1] = '\0';
		ok(mf_id_valid(id), "an id of MF_ID_MAX - 1 characters is accepted");
	}
	st = mf_entry_create(sp, "bogus", &e, &err);
	is_int(st, MF_EUSAGE, "create in an unknown queue: MF_EUSAGE");
	ok(!t_exists(pathf("%s/bogus", root)), "no directory made for an unknown queue");
}

static void check_modes(struct mf_spool *sp, const char *queue, const char *label)
{
	struct mf_entry e;
	struct mf_envelope env;
	struct mf_err err;
	char tmppath[PATH_MAX];
	int good = 1;

	if (mf_entry_create(sp, queue, &e, &err) != MF_OK) {
		ok(0, "%s: create", label);
		tap_diag("%s", err.msg);
		return;
	}
	ok(!strcmp(e.path, pathf("%s/%s/tmp/%s", root, queue, e.id)) && !strcmp(e.sub, "tmp") &&
	   !strcmp(e.queue, queue) && e.dirfd >= 0,
	   "%s: create makes ROOT/%s/tmp/ID", label, queue);
	is_int(t_mode(e.path), 0700, pathf("%s: entry directory in tmp/ is 0700", label));
	is_int(t_mode(pathf("%s/%s", root, queue)), 0700, pathf("%s: queue directory is 0700", label));
	good = t_mode(pathf("%s/%s/tmp", root, queue)) == 0700 &&
	       t_mode(pathf("%s/%s/new", root, queue)) == 0700 &&
	       t_mode(pathf("%s/%s/cur", root, queue)) == 0700;
	ok(good, "%s: tmp/ new/ cur/ are 0700", label);

	ok(write_message(&e, "Subject: x\n\nbody\n") == 0, "%s: write message via mf_entry_openat", label);
	small_env(&env, e.id);
	ok(mf_entry_write_envelope(&e, &env, &err) == MF_OK, "%s: write the envelope in tmp/", label);
	mf_envelope_free(&env);
	snprintf(tmppath, sizeof tmppath, "%s", e.path);
	ok(mf_entry_commit(&e, &err) == MF_OK, "%s: commit", label);
	ok(!strcmp(e.path, pathf("%s/%s/new/%s", root, queue, e.id)) && !strcmp(e.sub, "new"),
	   "%s: after commit e->path names new/ID", label);
	is_str(e.queue, queue, pathf("%s: after commit e->queue is still the queue", label));
	ok(!t_exists(tmppath) && t_exists(e.path), "%s: the entry moved from tmp/ to new/", label);
	is_int(t_mode(e.path), 0700, pathf("%s: entry directory in new/ is 0700", label));
	is_int(t_mode(pathf("%s/message", e.path)), 0600, pathf("%s: message is 0600", label));
	is_int(t_mode(pathf("%s/envelope", e.path)), 0600, pathf("%s: envelope is 0600", label));
	is_int(t_count_dir(e.path), 2, pathf("%s: the entry holds message and envelope only", label));
	mf_entry_close(&e);
}

static void test_create_commit_abort(struct mf_spool *sp)
{
	struct mf_entry e;
	struct mf_err err;
	char ids[50][MF_ID_MAX];
	int i, j, distinct = 1;

	umask(077);
	check_modes(sp, "in", "umask 077");
	umask(022);
	check_modes(sp, "quarantine", "umask 022");
	umask(077);

	if (mf_entry_create(sp, "in", &e, &err) == MF_OK) {
		char path[PATH_MAX];
		int before = t_count_dir(pathf("%s/in/new", root));
		snprintf(path, sizeof path, "%s", e.path);
		write_message(&e, "partial");
		mf_entry_abort(&e);
		ok(!t_exists(path), "abort removes the tmp/ entry and its files");
		is_int(t_count_dir(pathf("%s/in/tmp", root)), 0, "abort: nothing left in tmp/");
		is_int(t_count_dir(pathf("%s/in/new", root)), before, "abort: nothing added to new/");
		is_int(e.dirfd, -1, "abort closes the entry");
	} else {
		ok(0, "create for abort");
	}

	for (i = 0; i < 50; i++) {
		if (mf_entry_create(sp, "in", &e, &err) != MF_OK) {
			distinct = 0;
			break;
		}
		snprintf(ids[i], MF_ID_MAX, "%s", e.id);
		mf_entry_abort(&e);
		for (j = 0; j < i; j++)
			if (!strcmp(ids[i], ids[j]))
				distinct = 0;
	}
	ok(distinct, "50 entries created in a row get distinct ids");
	ok(strstr(ids[0], "mx1.example.org") != NULL, "the id carries the host name");
	is_int(t_count_dir(pathf("%s/in/tmp", root)), 0, "and all were aborted cleanly");
}

static void test_claim(struct mf_spool *sp)
{
	struct mf_entry e, e2;
	struct mf_err err;
	enum mf_status st;
	char id[MF_ID_MAX], id2[MF_ID_MAX];
	int go, res, rc;
	pid_t pid;

	if (make_entry(sp, "in", "claim me\n", id) < 0)
		return;
	st = mf_entry_claim(sp, "in", id, &e, &err);
	if (!is_int(st, MF_OK, "claim an entry in new/"))
		tap_diag("%s", err.msg);
	ok(!strcmp(e.path, pathf("%s/in/cur/%s", root, id)) && !strcmp(e.sub, "cur") && e.locked,
	   "the claimed entry is in cur/, locked");
	ok(!t_exists(pathf("%s/in/new/%s", root, id)) && t_exists(pathf("%s/in/cur/%s", root, id)),
	   "new/ID moved to cur/ID");
	is_int(t_mode(e.path), 0700, "claimed entry directory is 0700");

	/* The lock is real: another process cannot flock the directory. */
	pid = fork();
	if (pid == 0) {
		int fd = open(pathf("%s/in/cur/%s", root, id), O_RDONLY | O_DIRECTORY);
		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK ? 0 : 1);
	}
	is_int(t_wait(pid), 0, "another process finds the claimed entry locked");

	rc = child_claim(sp, "in", id);
	is_int(rc, MF_EBUSY, "a second claim from another process is MF_EBUSY");
	st = mf_entry_claim(sp, "in", id, &e2, &err);
	if (!is_int(st, MF_EBUSY, "a second claim in the same process (fresh open) is MF_EBUSY"))
		tap_diag("%s", err.msg);
	if (st == MF_OK)
		mf_entry_close(&e2);
	ok(t_exists(pathf("%s/in/cur/%s", root, id)), "the failed claims left the entry in cur/");

	st = mf_entry_claim(sp, "in", "1.M1P1Q1.nosuch", &e2, &err);
	is_int(st, MF_ENOENT, "claim of an id that does not exist: MF_ENOENT");

	/* release puts it back to new/, remove deletes it */
	st = mf_entry_release(&e, &err);
	ok(st == MF_OK && !strcmp(e.path, pathf("%s/in/new/%s", root, id)) &&
	   t_exists(e.path) && !t_exists(pathf("%s/in/cur/%s", root, id)),
	   "release puts the entry back into new/");
	ok(e.dirfd == -1 && !e.locked, "release closes the entry and drops the lock");
	is_str(e.queue, "in", "after release e->queue is still the queue");
	is_int(child_claim(sp, "in", id), MF_OK, "after release another process can claim it");
	/* the child exited without releasing: the claim stays in cur/ */
	ok(t_exists(pathf("%s/in/cur/%s", root, id)), "the child's claim left it in cur/");
	{
		unsigned back = 99, removed = 99;
		st = mf_spool_recover(sp, "in", 0, MF_TMP_MAX_AGE, &back, &removed, &err);
		ok(st == MF_OK && back == 1 && removed == 0, "recover puts back the dead child's claim");
	}
	st = mf_entry_claim(sp, "in", id, &e, &err);
	ok(st == MF_OK && mf_entry_remove(&e, &err) == MF_OK, "claim and remove");
	ok(!t_exists(pathf("%s/in/cur/%s", root, id)) && !t_exists(pathf("%s/in/new/%s", root, id)),
	   "remove deletes the entry");
	is_int(e.dirfd, -1, "remove closes the entry");

	/* Someone holds the lock on new/ID (mid-claim): the claim is MF_EBUSY. */
	if (make_entry(sp, "in", "locked\n", id2) < 0)
		return;
	pid = child_hold(sp, 'f', NULL, NULL, pathf("%s/in/new/%s", root, id2), &go, &res);
	is_int(res, 0, "child holds a flock on new/ID");
	st = mf_entry_claim(sp, "in", id2, &e, &err);
	ok(st == MF_EBUSY && strstr(err.msg, id2), "claim of a locked new/ID is MF_EBUSY, naming it");
	ok(t_exists(pathf("%s/in/new/%s", root, id2)), "a busy claim leaves the entry in new/");
	is_int(e.dirfd, -1, "a failed claim leaves the entry closed");
	close(go);
	t_wait(pid);
	st = mf_entry_claim(sp, "in", id2, &e, &err);
	is_int(st, MF_OK, "once the holder exits the claim succeeds");

	/* move to another queue (created on first use) */
	st = mf_entry_move(&e, "failed", &err);
	ok(st == MF_OK && !strcmp(e.path, pathf("%s/failed/new/%s", root, id2)) &&
	   !strcmp(e.queue, "failed") && !strcmp(e.sub, "new"),
	   "move to failed/: e->path names failed/new/ID");
	ok(t_exists(pathf("%s/failed/new/%s/message", root, id2)) &&
	   !t_exists(pathf("%s/in/cur/%s", root, id2)), "the entry and its files moved");
	ok(e.dirfd == -1 && !e.locked, "move closes the entry");
	is_int(t_mode(pathf("%s/failed", root)), 0700, "a queue made by move is 0700");
	st = mf_entry_claim(sp, "failed", id2, &e, &err);
	ok(st == MF_OK && mf_entry_move(&e, "bogus", &err) == MF_EUSAGE,
	   "move to an unknown queue is MF_EUSAGE");
	ok(t_exists(pathf("%s/failed/cur/%s", root, id2)), "a refused move leaves the entry claimed");
	mf_entry_remove(&e, &err);
}

static void test_envelope_rw(struct mf_spool *sp)
{
	struct mf_entry e, ro;
	struct mf_envelope env, back;
	struct mf_err err;
	enum mf_status st;
	char id[MF_ID_MAX];
	int64_t sz;

	if (make_entry(sp, "out", "0123456789\n", id) < 0)
		return;
	/* read-only open takes no lock */
	st = mf_entry_open(sp, "out", "new", id, &ro, &err);
	ok(st == MF_OK && !ro.locked, "mf_entry_open read-only");
	mf_envelope_init(&back);
	ok(mf_entry_read_envelope(&ro, &back, &err) == MF_OK && !strcmp(back.id, id) &&
	   back.nrcpts == 1, "read the envelope of an entry in new/");
	mf_envelope_free(&back);
	st = mf_entry_claim(sp, "out", id, &e, &err);
	is_int(st, MF_OK, "an entry open read-only elsewhere can still be claimed");
	mf_entry_close(&ro);

	sz = mf_entry_message_size(&e);
	is_int(sz, 11, "mf_entry_message_size");

	small_env(&env, id);
	env.rcpts[0].state = MF_RCPT_DEFERRED;
	env.rcpts[0].attempts = 4;
	env.rcpts[0].next_attempt = 1795439999;
	mf_envelope_set(&env.rcpts[0].reply, "421 4.4.2 timeout");
	st = mf_entry_write_envelope(&e, &env, &err);
	is_int(st, MF_OK, "write the envelope of a claimed entry");
	mf_envelope_init(&back);
	st = mf_entry_read_envelope(&e, &back, &err);
	ok(st == MF_OK && back.nrcpts == 1 && back.rcpts[0].state == MF_RCPT_DEFERRED &&
	   back.rcpts[0].attempts == 4 && back.rcpts[0].next_attempt == 1795439999 &&
	   back.rcpts[0].reply && !strcmp(back.rcpts[0].reply, "421 4.4.2 timeout"),
	   "read back what was written");
	mf_envelope_free(&back);

	env.rcpts[0].state = MF_RCPT_DELIVERED;
	env.rcpts[0].attempts = 5;
	st = mf_entry_write_envelope(&e, &env, &err);
	mf_envelope_init(&back);
	ok(st == MF_OK && mf_entry_read_envelope(&e, &back, &err) == MF_OK &&
	   back.rcpts[0].state == MF_RCPT_DELIVERED && back.rcpts[0].attempts == 5,
	   "a rewrite replaces the envelope");
	mf_envelope_free(&back);
	is_int(t_count_dir(e.path), 2, "after rewrites: message and envelope only");
	ok(!t_exists(pathf("%s/envelope.new", e.path)), "no envelope.new left");
	is_int(t_mode(pathf("%s/envelope", e.path)), 0600, "the rewritten envelope is 0600");
	mf_envelope_free(&env);

	/* a damaged or missing envelope is MF_ECORRUPT, naming the entry */
	t_write_str(pathf("%s/envelope", e.path), "Version: 2\nnonsense\n");
	mf_envelope_init(&back);
	st = mf_entry_read_envelope(&e, &back, &err);
	ok(st == MF_ECORRUPT && strstr(err.msg, e.path), "a damaged envelope is MF_ECORRUPT, naming the entry");
	mf_envelope_free(&back);
	unlink(pathf("%s/envelope", e.path));
	mf_envelope_init(&back);
	st = mf_entry_read_envelope(&e, &back, &err);
	is_int(st, MF_ECORRUPT, "a missing envelope is MF_ECORRUPT");
	mf_envelope_free(&back);
	{
		/* an envelope over MF_ENVELOPE_MAX is refused */
		size_t n = MF_ENVELOPE_MAX + 10;
		char *big = malloc(n);
		memset(big, 'x', n);
		memcpy(big, "Sender: <a@b>\nX: ", 17);
		t_write_file(pathf("%s/envelope", e.path), big, n);
		free(big);
		mf_envelope_init(&back);
		st = mf_entry_read_envelope(&e, &back, &err);
		ok(st == MF_ECORRUPT && strstr(err.msg, "too large"), "an envelope over 4 MiB is refused");
		mf_envelope_free(&back);
	}
	mf_entry_remove(&e, &err);

	st = mf_entry_open(sp, "nosuchqueue", "new", id, &ro, &err);
	is_int(st, MF_ENOENT, "mf_entry_open in an unknown queue: MF_ENOENT");
	st = mf_entry_open(sp, "out", "new", "../../etc", &ro, &err);
	is_int(st, MF_ENOENT, "mf_entry_open of a bad id: MF_ENOENT");
	st = mf_entry_open(sp, "out", "new", id, &ro, &err);
	is_int(st, MF_ENOENT, "mf_entry_open of a removed entry: MF_ENOENT");
}

static void test_recover(struct mf_spool *sp)
{
	struct mf_entry e;
	struct mf_err err;
	enum mf_status st;
	char id[MF_ID_MAX], fid[MF_ID_MAX], tmpid[MF_ID_MAX], oldid[MF_ID_MAX];
	unsigned back, removed;
	int go, res;
	pid_t pid;

	back = removed = 99;
	st = mf_spool_recover(sp, "out", 0, 0, &back, &removed, &err);
	ok(st == MF_OK && back == 0 && removed == 0, "recover with nothing to do");

	if (make_entry(sp, "out", "stalled\n", id) < 0)
		return;
	pid = child_hold(sp, 'c', "out", id, NULL, &go, &res);
	is_int(res, MF_OK, "a child claims the entry and keeps running");
	back = removed = 99;
	st = mf_spool_recover(sp, "out", 0, MF_TMP_MAX_AGE, &back, &removed, &err);
	ok(st == MF_OK && back == 0, "recover does not put back a claim whose lock is held");
	ok(t_exists(pathf("%s/out/cur/%s", root, id)) && !t_exists(pathf("%s/out/new/%s", root, id)),
	   "the held claim stays in cur/");
	close(go);
	is_int(t_wait(pid), 0, "the holder exits without releasing");
	ok(t_exists(pathf("%s/out/cur/%s", root, id)), "the dead holder's claim is still in cur/");
	back = 99;
	st = mf_spool_recover(sp, "out", 3600, MF_TMP_MAX_AGE, &back, &removed, &err);
	ok(st == MF_OK && back == 0 && t_exists(pathf("%s/out/cur/%s", root, id)),
	   "a free claim younger than the interval is left alone");
	back = 99;
	st = mf_spool_recover(sp, "out", 0, MF_TMP_MAX_AGE, &back, &removed, &err);
	ok(st == MF_OK && back == 1, "a free claim older than the interval is put back");
	ok(t_exists(pathf("%s/out/new/%s/message", root, id)) &&
	   !t_exists(pathf("%s/out/cur/%s", root, id)), "it is in new/ again, with its files");
	is_int(child_claim(sp, "out", id), MF_OK, "and can be claimed again");
	back = 99;
	mf_spool_recover(sp, "out", 0, MF_TMP_MAX_AGE, &back, &removed, &err);
	is_int(back, 1, "(put back again)");

	/* mf_entry_put_back_stalled: one entry, no age */
	if (make_entry(sp, "failed", "stalled\n", fid) < 0)
		return;
	pid = child_hold(sp, 'c', "failed", fid, NULL, &go, &res);
	is_int(res, MF_OK, "a child claims a failed/ entry and keeps running");
	st = mf_entry_put_back_stalled(sp, "failed", fid, &err);
	is_int(st, MF_EBUSY, "put_back_stalled while the holder runs: MF_EBUSY");
	ok(t_exists(pathf("%s/failed/cur/%s", root, fid)), "the held claim stays in cur/");
	close(go);
	t_wait(pid);
	st = mf_entry_put_back_stalled(sp, "failed", fid, &err);
	ok(st == MF_OK && t_exists(pathf("%s/failed/new/%s/message", root, fid)) &&
	   !t_exists(pathf("%s/failed/cur/%s", root, fid)),
	   "put_back_stalled after the holder died: back in new/");
	st = mf_entry_put_back_stalled(sp, "failed", fid, &err);
	is_int(st, MF_ENOENT, "put_back_stalled of an entry not in cur/: MF_ENOENT");
	if (mf_entry_claim(sp, "failed", fid, &e, &err) == MF_OK)
		mf_entry_remove(&e, &err);

	/* tmp/ leftovers: removed only when older than tmp_age */
	if (mf_entry_create(sp, "out", &e, &err) != MF_OK)
		return;
	write_message(&e, "unfinished");
	snprintf(tmpid, sizeof tmpid, "%s", e.id);
	mf_entry_close(&e);
	if (mf_entry_create(sp, "out", &e, &err) != MF_OK)
		return;
	write_message(&e, "old unfinished");
	snprintf(oldid, sizeof oldid, "%s", e.id);
	mf_entry_close(&e);
	{
		struct timespec ts[2];
		ts[0].tv_sec = ts[1].tv_sec = time(NULL) - MF_TMP_MAX_AGE - 3600;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		utimensat(AT_FDCWD, pathf("%s/out/tmp/%s", root, oldid), ts, 0);
	}
	back = removed = 99;
	st = mf_spool_recover(sp, "out", 3600, MF_TMP_MAX_AGE, &back, &removed, &err);
	ok(st == MF_OK && removed == 1, "recover removes one tmp/ leftover older than tmp_age");
	ok(!t_exists(pathf("%s/out/tmp/%s", root, oldid)), "the old leftover is gone, files and all");
	ok(t_exists(pathf("%s/out/tmp/%s/message", root, tmpid)), "the young one is kept");
	removed = 99;
	st = mf_spool_recover(sp, "out", 3600, 0, &back, &removed, &err);
	ok(st == MF_OK && removed == 1 && t_count_dir(pathf("%s/out/tmp", root)) == 0,
	   "with tmp_age 0 every tmp/ leftover goes");
	ok(t_exists(pathf("%s/out/new/%s", root, id)), "entries in new/ are not touched");

	back = removed = 99;
	st = mf_spool_recover(sp, "quarantine", 0, 0, &back, &removed, &err);
	ok(st == MF_OK && back == 0, "recover in a queue with no claims");
}

struct seen {
	char names[512];
	int calls, stop_after;
};

static int collect(struct mf_spool *sp, const char *queue, const char *sub,
		   const char *id, void *vctx)
{
	struct seen *s = vctx;

	(void)sp;
	(void)queue;
	(void)sub;
	s->calls++;
	snprintf(s->names + strlen(s->names), sizeof s->names - strlen(s->names), "%s,", id);
	return s->stop_after && s->calls >= s->stop_after;
}

static void test_each(struct mf_spool *sp)
{
	struct seen s = { "", 0, 0 };
	struct mf_err err;
	static const char *const names[] = { "3.M0P0Q2.c", "1.M0P0Q9.a", "2.M0P0Q1.b", ".hidden",
					     "..x", "0.M0P0Q0.A", "bad\033name" };
	size_t i;

	mf_queue_init(sp, "failed", &err);
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		mkdir(pathf("%s/failed/cur/%s", root, names[i]), 0700);
	ok(mf_spool_each(sp, "failed", "cur", collect, &s, &err) == MF_OK, "mf_spool_each");
	is_str(s.names, "0.M0P0Q0.A,1.M0P0Q9.a,2.M0P0Q1.b,3.M0P0Q2.c,",
	       "entries in name order, dot names and invalid names skipped");
	memset(&s, 0, sizeof s);
	s.stop_after = 2;
	mf_spool_each(sp, "failed", "cur", collect, &s, &err);
	ok(s.calls == 2 && !strcmp(s.names, "0.M0P0Q0.A,1.M0P0Q9.a,"),
	   "a non-zero return stops the walk");
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		rmdir(pathf("%s/failed/cur/%s", root, names[i]));
	memset(&s, 0, sizeof s);
	rmdir(pathf("%s/quarantine/cur", root)); /* a queue missing cur/ */
	ok(mf_spool_each(sp, "quarantine", "cur", collect, &s, &err) == MF_OK && s.calls == 0,
	   "a missing directory is an empty queue");
	mkdir(pathf("%s/quarantine/cur", root), 0700);
}

static void find_ok(struct mf_spool *sp, const char *queue, const char *name,
		    const char *wq, const char *wsub, const char *wid, const char *label)
{
	char q[16] = "", sub[4] = "", id[MF_ID_MAX] = "";
	struct mf_err err;
	enum mf_status st;

	st = mf_spool_find(sp, queue, name, q, sizeof q, sub, id, &err);
	if (!ok(st == MF_OK && !strcmp(q, wq) && !strcmp(sub, wsub) && !strcmp(id, wid),
		"find %s -> %s/%s/ID", label, wq, wsub))
		tap_diag("status %d (%s), got %s/%s/%s", st, st ? err.msg : "", q, sub, id);
}

static void find_bad(struct mf_spool *sp, const char *queue, const char *name,
		     enum mf_status want, const char *label)
{
	char q[16] = "", sub[4] = "", id[MF_ID_MAX] = "";
	struct mf_err err = { 0 };
	enum mf_status st;

	st = mf_spool_find(sp, queue, name, q, sizeof q, sub, id, &err);
	if (!ok(st == want, "find refuses %s (status %d)", label, want))
		tap_diag("status %d, msg '%s', got %s/%s/%s", st, err.msg, q, sub, id);
}

static void test_find(struct mf_spool *sp)
{
	struct mf_entry e, t;
	struct mf_err err;
	char id[MF_ID_MAX], cid[MF_ID_MAX], cwd[PATH_MAX];
	const char *top = tap_tmpdir();

	if (make_entry(sp, "in", "find me\n", id) < 0 || make_entry(sp, "out", "claimed\n", cid) < 0)
		return;
	if (mf_entry_claim(sp, "out", cid, &e, &err) != MF_OK)
		return;

	find_ok(sp, NULL, id, "in", "new", id, "an id in any queue");
	find_ok(sp, "in", id, "in", "new", id, "an id in its queue");
	find_ok(sp, NULL, cid, "out", "cur", cid, "a claimed id");
	find_bad(sp, "out", id, MF_ENOENT, "an id looked for in another queue");
	find_bad(sp, NULL, "1.M1P1Q1.nosuch", MF_ENOENT, "an unknown id");
	find_bad(sp, NULL, "..", MF_EUSAGE, "'..' as an id");
	find_bad(sp, NULL, ".hidden", MF_EUSAGE, "a dot name as an id");

	find_ok(sp, NULL, pathf("%s/in/new/%s", root, id), "in", "new", id, "an absolute path");
	find_ok(sp, NULL, pathf("%s/in/new/%s/", root, id), "in", "new", id, "a path with a trailing /");
	find_ok(sp, NULL, pathf("%s/out/cur/%s", root, cid), "out", "cur", cid, "a path in cur/");
	find_ok(sp, NULL, pathf("%s/in/cur/../new/%s", root, id), "in", "new", id,
		"a path with .. that stays inside");
	find_ok(sp, NULL, pathf("%s//in///new/%s", root, id), "in", "new", id, "a path with //");
	if (getcwd(cwd, sizeof cwd) && chdir(root) == 0) {
		find_ok(sp, NULL, pathf("./in/new/%s", id), "in", "new", id, "a relative path");
		if (chdir(cwd) != 0)
			tap_diag("cannot chdir back");
	}

	/* outside the spool */
	mkdir(pathf("%s/outside", top), 0700);
	mkdir(pathf("%s/outside/in", top), 0700);
	mkdir(pathf("%s/outside/in/new", top), 0700);
	mkdir(pathf("%s/outside/in/new/%s", top, id), 0700);
	find_bad(sp, NULL, pathf("%s/outside/in/new/%s", top, id), MF_EUSAGE,
		 "a path outside the spool");
	find_bad(sp, NULL, pathf("%s/in/new/../../../outside/in/new/%s", root, id), MF_EUSAGE,
		 "a ../ path leading out of the spool");
	find_bad(sp, NULL, pathf("%s/in/new/%s/../../../../outside/in/new/%s", root, id, id),
		 MF_EUSAGE, "a ../ path through an entry leading out");
	symlink(pathf("%s/outside/in/new/%s", top, id), pathf("%s/in/new/evil-link", root));
	find_bad(sp, NULL, pathf("%s/in/new/evil-link", root), MF_EUSAGE,
		 "a symlink in new/ pointing outside the spool");
	symlink(pathf("%s/outside/in", top), pathf("%s/evilq", root));
	find_bad(sp, NULL, pathf("%s/evilq/new/%s", root, id), MF_EUSAGE,
		 "a path through a symlinked directory pointing outside");
	unlink(pathf("%s/in/new/evil-link", root));
	mkdir(pathf("%s2", root), 0700);
	mkdir(pathf("%s2/in", root), 0700);
	mkdir(pathf("%s2/in/new", root), 0700);
	mkdir(pathf("%s2/in/new/%s", root, id), 0700);
	find_bad(sp, NULL, pathf("%s2/in/new/%s", root, id), MF_EUSAGE,
		 "a sibling directory whose name starts like the root");

	/* inside, but not an entry place */
	if (mf_entry_create(sp, "in", &t, &err) == MF_OK) {
		find_bad(sp, NULL, t.path, MF_EUSAGE, "a path in tmp/");
		mf_entry_abort(&t);
	}
	find_bad(sp, NULL, pathf("%s/in/new/%s/message", root, id), MF_EUSAGE,
		 "a file inside an entry");
	find_bad(sp, NULL, pathf("%s/in/new", root), MF_EUSAGE, "a queue directory");
	find_bad(sp, NULL, root, MF_EUSAGE, "the root itself");
	mkdir(pathf("%s/bogus", root), 0700);
	mkdir(pathf("%s/bogus/new", root), 0700);
	mkdir(pathf("%s/bogus/new/x.1", root), 0700);
	find_bad(sp, NULL, pathf("%s/bogus/new/x.1", root), MF_EUSAGE, "an unknown queue");
	mkdir(pathf("%s/in/new/.dot", root), 0700);
	find_bad(sp, NULL, pathf("%s/in/new/.dot", root), MF_EUSAGE, "a dot name in new/");
	rmdir(pathf("%s/in/new/.dot", root));
	find_bad(sp, NULL, pathf("%s/in/new/1.M1P1Q1.gone", root), MF_ENOENT, "a path that does not exist");

	mf_entry_close(&e);
}


/* mf_entry_open_file: what it refuses, and that it never blocks or follows. */
static void test_trust(struct mf_spool *sp)
{
	struct mf_entry e;
	struct mf_err err;
	enum mf_status st;
	char id[MF_ID_MAX], buf[16];
	struct stat sb;
	int fd;

	if (make_entry(sp, "out", "hello\n", id) < 0 ||
	    mf_entry_claim(sp, "out", id, &e, &err) != MF_OK)
		return;
	st = mf_entry_open_file(&e, "message", O_RDONLY, &fd, &err);
	ok(st == MF_OK && fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	   read(fd, buf, sizeof buf) == 6, "open_file: a regular file, blocking again, readable");
	if (fd >= 0)
		close(fd);
	if (link(pathf("%s/message", e.path), pathf("%s/second", tap_tmpdir())) < 0)
		tap_diag("link: %s", strerror(errno));
	st = mf_entry_open_file(&e, "message", O_RDONLY, &fd, &err);
	ok(st == MF_ECORRUPT && strstr(err.msg, "more than one link"), "open_file: a hard link is MF_ECORRUPT");
	t_write_str(pathf("%s/secret-file", tap_tmpdir()), "secret\n");
	unlink(pathf("%s/message", e.path));
	symlink(pathf("%s/secret-file", tap_tmpdir()), pathf("%s/message", e.path));
	st = mf_entry_open_file(&e, "message", O_RDONLY, &fd, &err);
	ok(st == MF_ECORRUPT && fd == -1 && strstr(err.msg, "message: a symlink"),
	   "open_file: a symlink is MF_ECORRUPT");
	unlink(pathf("%s/message", e.path));
	mkfifo(pathf("%s/message", e.path), 0600);
	st = mf_entry_open_file(&e, "message", O_RDONLY, &fd, &err);
	ok(st == MF_ECORRUPT && strstr(err.msg, "not a regular file"),
	   "open_file: a FIFO is MF_ECORRUPT, without blocking");
	unlink(pathf("%s/message", e.path));
	st = mf_entry_open_file(&e, "message", O_RDONLY, &fd, &err);
	ok(st == MF_ECORRUPT && strstr(err.msg, "message: missing"), "open_file: a missing file is MF_ECORRUPT");

	/* a planted envelope.new link is removed, its target untouched */
	symlink(pathf("%s/secret-file", tap_tmpdir()), pathf("%s/envelope.new", e.path));
	{
		struct mf_envelope env;
		small_env(&env, id);
		st = mf_entry_write_envelope(&e, &env, &err);
		mf_envelope_free(&env);
	}
	ok(st == MF_OK && t_mode(pathf("%s/envelope", e.path)) == 0600 &&
	   !t_exists(pathf("%s/envelope.new", e.path)) &&
	   lstat(pathf("%s/secret-file", tap_tmpdir()), &sb) == 0 && sb.st_size == 7,
	   "envelope.new symlink: unlinked, never written through");
	if (st != MF_OK)
		tap_diag("%s", err.msg);


	/* set aside: to corrupt/new, closed */
	st = mf_entry_set_aside(&e, NULL, &err);
	ok(st == MF_OK && e.dirfd == -1 && t_exists(pathf("%s/corrupt/new/%s/envelope", root, id)) &&
	   !t_exists(pathf("%s/out/cur/%s", root, id)), "set aside: moved to corrupt/new");
	mf_entry_close(&e);

	/* an entry with neither file: removed, not set aside */
	if (make_entry(sp, "out", "x\n", id) == 0 &&
	    mf_entry_claim(sp, "out", id, &e, &err) == MF_OK) {
		unlink(pathf("%s/message", e.path));
		unlink(pathf("%s/envelope", e.path));
		st = mf_entry_set_aside(&e, NULL, &err);
		ok(st == MF_OK && !t_exists(pathf("%s/out/cur/%s", root, id)) &&
		   !t_exists(pathf("%s/out/tmp/%s", root, id)) &&
		   !t_exists(pathf("%s/corrupt/new/%s", root, id)), "set aside: an empty entry is removed");
		mf_entry_close(&e);
	} else {
		ok(0, "set aside: an empty entry is removed");
	}
}

/* Names and escaping: the grammar mf makes, control characters escaped. */
static void test_names(struct mf_spool *sp)
{
	struct mf_err err;
	char out[64];
	unsigned back, removed;

	ok(mf_id_valid("1795431256.M123456P4242Q1.mx1.example-host_x") &&
	   !mf_id_valid("1.M1P1Q1.") && !mf_id_valid("1.M1P1Q1.a\nb") &&
	   !mf_id_valid("1.M1P1Q1.a\033b") && !mf_id_valid("x.M1P1Q1.a") &&
	   !mf_id_valid("1.M1P1Q.a") && !mf_id_valid("1.M1P1Q1.a/b") && !mf_id_valid("1.MP1Q1.a"),
	   "mf_id_valid: TIME.MusecPpidQcount.HOST only");
	is_str(mf_escape("a\nb\033[31m\tc\x7f\\", out, sizeof out), "a\\nb\\x1b[31m\\tc\\x7f\\",
	       "mf_escape: controls as \\n, \\t, \\xHH");
	is_str(mf_escape("abc\n", out, 4), "abc", "mf_escape: cut when full, never mid-escape");
	is_str(mf_escape(out, out + 8, 8), "abc", "mf_escape: escaping twice changes nothing");

	mkdir(pathf("%s/in/new/1.M1P1Q1.x\n\033[2Jevil", root), 0700);
	mkfifo(pathf("%s/in/new/1.M1P1Q1.fifo", root), 0600);
	mf_spool_recover(sp, "in", -1, MF_TMP_MAX_AGE, &back, &removed, &err);
	ok(!t_exists(pathf("%s/in/new/1.M1P1Q1.x\n\033[2Jevil", root)) &&
	   !t_exists(pathf("%s/in/new/1.M1P1Q1.fifo", root)),
	   "recover sets aside a bad name and a FIFO in new/");
	is_int(t_count_dir(pathf("%s/corrupt/new", root)), 3, "... into corrupt/new, fresh names");
}

/* Remove claimed QUEUE/new/ID; its trash name in *trash. */
static enum mf_status claim_remove(struct mf_spool *sp, const char *id, char *trash)
{
	struct mf_entry e;
	struct mf_err err;
	enum mf_status st;

	if ((st = mf_entry_claim(sp, "out", id, &e, &err)))
		return st;
	memcpy(trash, pathf("%s/out/tmp/trash.%s", root, id), PATH_MAX);
	return mf_entry_remove_nosync(&e, &err);
}

static void test_trash(struct mf_spool *sp)
{
	char id[3][MF_ID_MAX], trash[PATH_MAX], buf[4096], ln[PATH_MAX];
	struct mf_err err;
	unsigned back, removed, corrupt, listed = 99, before = 0;
	struct seen s = { "", 0, 0 };
	FILE *f;
	int i, all = 1;

	ok(mf_trash_name("trash.1795431256.M123456P4242Q1.mx1") && !mf_trash_name("trash.") &&
	   !mf_trash_name("trash.x") && !mf_trash_name("1.M1P1Q1.x") &&
	   !mf_trash_name("trashx1.M1P1Q1.x") && !mf_id_valid("trash.1.M1P1Q1.x"),
	   "mf_trash_name: trash.ID only, and no trash name is an entry name");

	if (make_entry(sp, "out", "inline\n", id[0]) < 0)
		return;
	ok(claim_remove(sp, id[0], trash) == MF_OK && !t_exists(trash) &&
	   t_count_dir(pathf("%s/out/tmp", root)) == 0 &&
	   !t_exists(pathf("%s/out/cur/%s", root, id[0])), "a removal without the thread: nothing left");

	mf_spool_remove_async(sp, 1);
	for (i = 0; i < 3; i++)
		all &= make_entry(sp, "out", "async\n", id[i]) == 0 &&
		       claim_remove(sp, id[i], trash) == MF_OK &&
		       !t_exists(pathf("%s/out/cur/%s", root, id[i]));
	ok(all, "with the thread: each removal leaves cur/ at once");
	mf_spool_reap_wait(sp);
	is_int(t_count_dir(pathf("%s/out/tmp", root)), 0, "after the wait the trash is freed");
	mf_spool_remove_async(sp, 0);

	/* trash a kill left: never listed, never an entry, removed at once */
	f = fmemopen(buf, sizeof buf, "w");
	if (f) {
		mf_queue_list(sp, NULL, f, time(NULL), &before, &err);
		fclose(f);
	}
	mkdir(pathf("%s/out/tmp/trash.%s", root, id[0]), 0700);
	t_write_str(pathf("%s/out/tmp/trash.%s/message", root, id[0]), "left\n");
	t_write_str(pathf("%s/out/tmp/trash.%s/envelope", root, id[0]), "left\n");
	f = fmemopen(buf, sizeof buf, "w");
	if (f) {
		mf_queue_list(sp, NULL, f, time(NULL), &listed, &err);
		fclose(f);
	}
	ok(f && listed == before && !strstr(buf, "trash") && !strstr(buf, "invalid"),
	   "mf_queue_list (mf-inject -l) does not list trash");
	mf_spool_each(sp, "out", "tmp", collect, &s, &err);
	is_int(s.calls, 0, "mf_spool_each never hands trash over as an entry");
	corrupt = (unsigned)t_count_dir(pathf("%s/corrupt/new", root));
	back = removed = 99;
	ok(mf_spool_recover(sp, "out", 3600, MF_TMP_MAX_AGE, &back, &removed, &err) == MF_OK &&
	   removed == 1 && t_count_dir(pathf("%s/out/tmp", root)) == 0 &&
	   t_count_dir(pathf("%s/corrupt/new", root)) == (int)corrupt,
	   "recover removes young trash at once, files and all, and sets nothing aside");

	/* a link named as trash is not followed: set aside, its target kept */
	mkdir(pathf("%s/../outside", root), 0700);
	t_write_str(pathf("%s/../outside/keep", root), "x");
	memcpy(ln, pathf("%s/out/tmp/trash.%s", root, id[1]), sizeof ln);
	if (symlink(pathf("%s/../outside", root), ln) < 0)
		tap_diag("symlink: %s", strerror(errno));
	mf_spool_recover(sp, "out", 3600, MF_TMP_MAX_AGE, &back, &removed, &err);
	ok(!t_exists(ln) && t_exists(pathf("%s/../outside/keep", root)) &&
	   t_count_dir(pathf("%s/corrupt/new", root)) == (int)corrupt + 1,
	   "a symlink named as trash is set aside, never followed");
}

int main(void)
{
	struct mf_spool sp;

	mf_log_open("t/spool", MF_LOG_OFF, LOG_WARNING);
	umask(077);
	snprintf(root, sizeof root, "%s/spool", tap_tmpdir());
	mkdir(root, 0700);
	tap_plan(167);
	test_open(&sp);
	test_create_commit_abort(&sp);
	test_claim(&sp);
	test_envelope_rw(&sp);
	test_recover(&sp);
	test_each(&sp);
	test_find(&sp);
	test_trust(&sp);
	test_names(&sp);
	test_trash(&sp);
	mf_spool_close(&sp);
	return tap_done();
}
