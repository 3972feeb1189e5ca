/* SPDX-License-Identifier: MIT */
/* Who a tool runs as: never root.  Started as root, it becomes the mail filter user. */
#include "mf_priv.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Look a user up by name (name) or uid in /etc/passwd:
 * the mail filter user is a system account, and fgetpwent() needs no NSS, so
 * the static mf-receive needs no shared library at run time. */
static int passwd_find(const char *name, uid_t uid, struct mf_priv *p)
{
	struct passwd *pw;
	FILE *f = fopen("/etc/passwd", "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && (pw = fgetpwent(f)))
		if (name ? !strcmp(pw->pw_name, name) : pw->pw_uid == uid) {
			p->uid = pw->pw_uid;
			p->gid = pw->pw_gid;
			snprintf(p->name, sizeof p->name, "%.63s", pw->pw_name);
			snprintf(p->home, sizeof p->home, "%s",
				 pw->pw_dir[0] == '/' && strlen(pw->pw_dir) < sizeof p->home
				 ? pw->pw_dir : "/");
			found = 1;
		}
	fclose(f);
	return found;
}

/* [General] User: a name, else a number with a passwd entry. */
static enum mf_status user_of_conf(const struct mf_conf *c, const char *v,
				   struct mf_priv *p, struct mf_err *err)
{
	unsigned long n = 0;
	char *end = NULL;
	int found = passwd_find(v, 0, p);

	if (!found && v[0] >= '0' && v[0] <= '9') {
		errno = 0;
		n = strtoul(v, &end, 10);
		found = !*end && !errno && n < (unsigned long)(uid_t)-1 &&
			passwd_find(NULL, (uid_t)n, p);
	}
	if (!found)
		return mf_err_set(err, MF_ECONFIG, "%s:%u: User %.64s: no such user in /etc/passwd",
				  mf_conf_path(c), mf_conf_line(c, "General", NULL, "User"), v);
	if (p->uid == 0)
		return mf_err_set(err, MF_ECONFIG, "%s:%u: refusing to run as root: "
				  "User %.64s has uid 0; name the mail filter user",
				  mf_conf_path(c), mf_conf_line(c, "General", NULL, "User"), v);
	return MF_OK;
}

/* The owner of the spool root, with its passwd group (else the root's group). */
static enum mf_status user_of_spool(const char *spool, struct mf_priv *p,
				    struct mf_err *err)
{
	struct stat st;

	if (stat(spool, &st) < 0)
		return mf_err_errno(err, errno, "spool %s", spool);
	if (st.st_uid == 0)
		return mf_err_set(err, MF_ECONFIG, "refusing to run as root: spool %s is "
				  "owned by root; chown it to the mail filter user or set "
				  "User in [General]", spool);
	if (!passwd_find(NULL, st.st_uid, p)) {
		p->uid = st.st_uid;
		p->gid = st.st_gid;
	}
	return MF_OK;
}

/* Whether any capability is left (a keep-caps parent could leave some). */
static int caps_left(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return 0; /* no capget: the uid and gid checks stand alone */
	return d[0].permitted || d[1].permitted || d[0].effective || d[1].effective;
}

static enum mf_status set_env(const struct mf_priv *p, struct mf_err *err)
{
	if (setenv("HOME", p->home[0] ? p->home : "/", 1) < 0 ||
	    (p->name[0] && (setenv("USER", p->name, 1) < 0 ||
			    setenv("LOGNAME", p->name, 1) < 0)))
		return mf_err_errno(err, errno, "setenv");
	if (!p->name[0]) {
		unsetenv("USER");
		unsetenv("LOGNAME");
	}
	return MF_OK;
}

static enum mf_status become(const struct mf_priv *p, struct mf_err *err)
{
	if (setgroups(1, &p->gid) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0)
		return mf_err_set(err, MF_ETEMP, "cannot become uid %lu gid %lu: %s",
				  (unsigned long)p->uid, (unsigned long)p->gid, strerror(errno));
	if (setuid(0) == 0 || setgid(0) == 0 || geteuid() != p->uid ||
	    getuid() != p->uid || getegid() != p->gid || caps_left())
		return mf_err_set(err, MF_EINTERNAL, "became uid %lu but could regain root",
				  (unsigned long)p->uid);
	return set_env(p, err);
}

enum mf_status mf_priv_drop(const struct mf_conf *c, const char *spool,
			    struct mf_priv *p, struct mf_err *err)
{
	const char *user = mf_conf_str(c, "General", NULL, "User");
	enum mf_status st;

	memset(p, 0, sizeof *p);
	if (*user && (st = user_of_conf(c, user, p, err)))
		return st;
	if (geteuid() != 0) {
		/* the common case, an MTA's pipe running mf-receive as the
		 * filter user: nothing to read (mf_priv_name() when asked) */
		memset(p, 0, sizeof *p);
		p->uid = geteuid();
		p->gid = getegid();
		return MF_OK;
	}
	if (!*user && (st = user_of_spool(spool, p, err)))
		return st;
	if (p->gid == 0)
		return mf_err_set(err, MF_ECONFIG, "refusing to run with group root: "
				  "user %s (uid %lu) has gid 0; give it a group of its own",
				  p->name[0] ? p->name : "?", (unsigned long)p->uid);
	if ((st = become(p, err)))
		return st;
	p->dropped = 1;
	return MF_OK;
}

void mf_priv_name(struct mf_priv *p)
{
	struct mf_priv q;

	if (!p->name[0] && passwd_find(NULL, p->uid, &q)) {
		memcpy(p->name, q.name, sizeof p->name);
		memcpy(p->home, q.home, sizeof p->home);
	}
}
