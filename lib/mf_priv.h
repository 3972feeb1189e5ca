/* SPDX-License-Identifier: MIT */
/* Who a tool runs as: never root.  Started as root, it becomes the mail filter user. */
#ifndef MF_PRIV_H
#define MF_PRIV_H

#include <sys/types.h>

#include "mf_conf.h"
#include "mf_status.h"

/*
 * The mail filter user is [General] User (a name, or a uid with an
 * /etc/passwd entry) when it is set, else the owner of the spool root (with
 * its /etc/passwd group, else the spool root's group).  User, when set,
 * is checked on every run (an unknown user is "FILE:LINE: ..." MF_ECONFIG),
 * whoever runs the tool.
 *
 * mf_priv_drop() is called once a tool has read its config (the admin's
 * file, read as root as Postfix reads main.cf) and before it touches the
 * spool, a message or any file a non-admin could have planted.  Started with
 * euid 0 it sets the groups to the user's primary group alone (as Postfix
 * does: no supplementary groups), then the real, effective and saved gid and
 * uid; it checks that neither uid 0, gid 0 nor any capability can be had
 * back; and it sets HOME (the user's home, else "/"), USER and LOGNAME.  The
 * umask stays 077.  A target of uid 0 or gid 0 is refused with MF_ECONFIG
 * and one line naming what to change.  Started as anyone else, nothing
 * changes: p holds the current uid and gid (name and home empty until
 * mf_priv_name()).
 */
struct mf_priv {
	uid_t uid;
	gid_t gid;
	char name[64];  /* "" when the uid has no passwd entry */
	char home[256]; /* its home directory, "" when unknown */
	int dropped;   /* started as root, now uid/gid */
};

enum mf_status mf_priv_drop(const struct mf_conf *c, const char *spool,
			    struct mf_priv *p, struct mf_err *err);
/* Fill in p's name and home from /etc/passwd when they are unknown (a tool
 * not started as root does not read it on every run). */
void mf_priv_name(struct mf_priv *p);

#endif
