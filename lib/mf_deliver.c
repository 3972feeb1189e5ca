/* SPDX-License-Identifier: MIT */
/* Local delivery methods of mf-send: maildir and pipe. */
#include "mf_deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mf_buf.h"
#include "mf_file.h"
#include "mf_log.h"

void mf_reply_set(struct mf_smtp_reply *r, int code, const char *dsn,
		  const char *fmt, ...)
{
	char text[MF_SMTP_TEXT_MAX];
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	for (p = text; *p; p++)
		if ((unsigned char)*p < 32)
			*p = ' ';
	r->code = code;
	snprintf(r->dsn, sizeof r->dsn, "%s", dsn);
	snprintf(r->text, sizeof r->text, "%d %.11s %.490s", code, dsn, text);
}

static void reply_errno(struct mf_smtp_reply *r, int errnum, const char *what)
{
	int full = errnum == ENOSPC || errnum == EDQUOT;

	mf_reply_set(r, 451, full ? "4.3.1" : "4.3.0", "%s: %s", what, strerror(errnum));
}

/*
 * Maildir paths.  The directories before the component that holds the first
 * '%' of the template are the admin's and are opened as they are; every
 * component from there on, and tmp/, new/ and cur/, is opened relative to
 * its parent with O_NOFOLLOW, made (0700) when missing, and must be a real
 * directory.  A macro value is refused (5.1.3) when it would not stay one
 * component: it holds a '/' or a control character, starts with a dot, or
 * makes its component longer than NAME_MAX.  A component that comes out
 * empty is left out (%d of <postmaster>), unless every one with a macro does.
 */
struct walk {
	int fd;			/* the directory reached so far */
	char path[PATH_MAX];	/* its name, for messages */
};

/* 1 when a macro value may stand in a path component */
static int value_safe(const char *v, size_t len)
{
	size_t i;

	if (len && v[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (v[i] == '/' || (unsigned char)v[i] < 32 || v[i] == 127)
			return 0;
	return 1;
}

/* The value of macro c for rcpt (%u local part, %d domain, %a address). */
static int macro_value(char c, const char *rcpt, const char **v, size_t *len)
{
	const char *at = strrchr(rcpt, '@');

	*v = c == 'd' ? (at ? at + 1 : "") : rcpt;
	*len = c == 'u' && at ? (size_t)(at - rcpt) : strlen(*v);
	return c == 'u' || c == 'd' || c == 'a';
}

static void refuse_address(struct mf_smtp_reply *r, const char *rcpt)
{
	mf_reply_set(r, 550, "5.1.3", "maildir: <%s> cannot name a mailbox ('/', leading '.', "
		     "control character, empty or too long)", rcpt);
}

/* Component [s, e) of the template for rcpt into out[NAME_MAX + 1]: 1 when it
 * holds a macro, 0 when not, 2 when it holds one and came out empty (it is
 * left out, as %d of <postmaster>), -1 (reply set) when it cannot be used. */
static int expand_component(const char *s, const char *e, const char *rcpt,
			    char *out, struct mf_smtp_reply *r)
{
	size_t n = 0, len;
	const char *v;
	int macro = 0;

	for (; s < e; s++) {
		if (*s == '%' && s + 1 < e && macro_value(s[1], rcpt, &v, &len)) {
			if (!value_safe(v, len))
				goto bad_value;
			macro = 1;
			s++;
		} else {
			if (*s == '%' && s + 1 < e)
				s++; /* %% and %x: the character */
			v = s;
			len = 1;
		}
		if (n + len > NAME_MAX)
			goto bad_value;
		memcpy(out + n, v, len);
		n += len;
	}
	out[n] = '\0';
	if (macro && !n)
		return 2;
	if (!strcmp(out, ".") || !strcmp(out, "..")) {
		mf_reply_set(r, 451, "4.3.5", "maildir path: a component '%s' is refused", out);
		return -1;
	}
	return macro;
bad_value:
	refuse_address(r, rcpt);
	return -1;
}

/* Open name in parent, without following a link, making it when missing. */
static int open_subdir(int parent, const char *path, const char *name,
		       struct mf_smtp_reply *r)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(parent, name, flags);

	if (fd < 0 && errno == ENOENT && (mkdirat(parent, name, 0700) == 0 || errno == EEXIST))
		fd = openat(parent, name, flags);
	if (fd >= 0)
		return fd;
	if (errno == ELOOP || errno == ENOTDIR)
		mf_reply_set(r, 451, "4.3.0", "maildir %s/%s: a symbolic link or not a directory, "
			     "not followed", path, name);
	else
		reply_errno(r, errno, path);
	return -1;
}

static int walk_step(struct walk *w, const char *name, struct mf_smtp_reply *r)
{
	size_t len = strlen(w->path);
	int fd = open_subdir(w->fd, w->path, name, r);

	if (fd < 0)
		return -1;
	close(w->fd);
	w->fd = fd;
	if (snprintf(w->path + len, sizeof w->path - len, "/%s", name) >= (int)(sizeof w->path - len)) {
		mf_reply_set(r, 451, "4.3.5", "maildir path too long");
		return -1;
	}
	return 0;
}

static int mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* The trusted start: tmpl up to len, made when missing, links followed. */
static int walk_start(struct walk *w, const char *tmpl, size_t len, struct mf_smtp_reply *r)
{
	if (len >= sizeof w->path) {
		mf_reply_set(r, 451, "4.3.5", "maildir path too long");
		return -1;
	}
	memcpy(w->path, tmpl, len);
	w->path[len] = '\0';
	if (!len)
		w->path[0] = '/';
	w->fd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->fd < 0 && errno == ENOENT && mkdirs(w->path) == 0)
		w->fd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->fd < 0) {
		reply_errno(r, errno, w->path);
		return -1;
	}
	if (!len)
		w->path[0] = '\0';
	return 0;
}

/* Reach the maildir of rcpt: w->fd is open on it, or -1 (reply set). */
static int walk_maildir(struct walk *w, const char *tmpl, const char *rcpt,
			struct mf_smtp_reply *r)
{
	const char *pct = strchr(tmpl, '%'), *end = tmpl + strlen(tmpl), *s, *e;
	char name[NAME_MAX + 1];
	int made = 0, rc;
	size_t start;

	while (end > tmpl + 1 && end[-1] == '/')
		end--;
	s = pct && pct < end ? pct : end; /* without a macro, the last component */
	while (s > tmpl && s[-1] != '/')
		s--;
	start = s > tmpl ? (size_t)(s - tmpl - 1) : 0;
	if (*tmpl != '/' || walk_start(w, tmpl, start, r) < 0) {
		if (*tmpl != '/')
			mf_reply_set(r, 451, "4.3.5", "maildir path %s is not absolute", tmpl);
		return -1;
	}
	for (; *s; s = *e ? e + 1 : e) {
		e = s + strcspn(s, "/");
		if (e == s)
			continue;
		rc = expand_component(s, e, rcpt, name, r);
		if (rc < 0 || (rc != 2 && walk_step(w, name, r) < 0))
			return -1;
		made |= rc;
	}
	if (made == 2) {
		refuse_address(r, rcpt); /* every macro empty: not the parent of all */
		return -1;
	}
	return 0;
}

/* Return-Path + Delivered-To, then the message from msgfd. */
/* prefix, then the message from msgfd (from its start) */
static int copy_message(int out, const char *prefix, int msgfd)
{
	char buf[65536];
	ssize_t r;

	if (prefix && mf_write_all(out, prefix, strlen(prefix)) < 0)
		return -1;
	if (lseek(msgfd, 0, SEEK_SET) < 0)
		return -1;
	while ((r = read(msgfd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || mf_write_all(out, buf, (size_t)r) < 0)
			return -1;
	}
	return 0;
}

static int write_copy(int out, const struct mf_envelope *env, const char *rcpt,
		      int msgfd, const char *prefix)
{
	char head[1024];
	int n;

	n = snprintf(head, sizeof head, "Return-Path: <%s>\nDelivered-To: %s\n",
		     env->sender ? env->sender : "", rcpt);
	if (n < 0 || (size_t)n >= sizeof head || mf_write_all(out, head, (size_t)n) < 0)
		return -1;
	return copy_message(out, prefix, msgfd);
}

/* Write the copy as tmp/name, fsync it, rename it into new/, fsync new/. */
static void store(int tmpfd, int newfd, const char *dir, const char *name,
		  const struct mf_envelope *env, const char *rcpt, int msgfd,
		  const char *prefix, struct mf_smtp_reply *reply)
{
	int fd, saved;

	fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		reply_errno(reply, errno, dir);
		return;
	}
	if (write_copy(fd, env, rcpt, msgfd, prefix) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlinkat(tmpfd, name, 0);
		reply_errno(reply, saved, dir);
		return;
	}
	if (close(fd) < 0 || renameat(tmpfd, name, newfd, name) < 0) {
		saved = errno;
		unlinkat(tmpfd, name, 0);
		reply_errno(reply, saved, dir);
		return;
	}
	if (fsync(newfd) < 0) {
		reply_errno(reply, errno, dir);
		return; /* the copy may be there: a retry may duplicate, never lose */
	}
	mf_reply_set(reply, 250, "2.0.0", "delivered to maildir %s", dir);
}

void mf_deliver_maildir(const char *tmpl, const struct mf_envelope *env,
			const char *rcpt, int msgfd, const char *host,
			const char *prefix, struct mf_smtp_reply *reply)
{
	static const char *const subs[3] = { "tmp", "new", "cur" };
	static unsigned counter;
	struct walk w = { .fd = -1 };
	int sub[3] = { -1, -1, -1 };
	char name[256];
	struct timeval tv;
	size_t i;

	if (walk_maildir(&w, tmpl, rcpt, reply) == 0) {
		for (i = 0; i < 3; i++)
			if ((sub[i] = open_subdir(w.fd, w.path, subs[i], reply)) < 0)
				break;
		if (i == 3) {
			gettimeofday(&tv, NULL);
			snprintf(name, sizeof name, "%lld.M%06ldP%ldQ%u.%.200s",
				 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
				 ++counter, host);
			store(sub[0], sub[1], w.path, name, env, rcpt, msgfd, prefix, reply);
		}
	}
	for (i = 0; i < 3; i++)
		if (sub[i] >= 0)
			close(sub[i]);
	if (w.fd >= 0)
		close(w.fd);
}

/*
 * Pipe runs.  The program is exec'd with an argv (never a shell), as the
 * leader of a session of its own, with only fds 0-2 open and the minimal
 * environment of build_env(); when it ends, or at the deadline, the whole
 * process group is killed, so nothing it started outlives the run or holds
 * its output open.
 */

/* The next blank-separated word of *p (its length in *len), or NULL. */
static const char *next_word(const char **p, size_t *len)
{
	const char *s = *p + strspn(*p, " \t");

	if (!*s)
		return NULL;
	*len = strcspn(s, " \t");
	*p = s + *len;
	return s;
}

/* The recipients that may run go into run[] (their count is returned); the
 * others get their reply here.  A word before "--" that starts with %s, %i
 * or %r must not start with '-' once expanded: getopt would take it for an
 * option.  A sender (or ID) that would fails every recipient (5.1.7); a
 * recipient that would fails alone (5.1.3). */
static size_t guard_options(const char *prog, const char *args,
			    const struct mf_envelope *env, const char *const *rcpts,
			    size_t n, const char **run, struct mf_smtp_reply *replies)
{
	const char *p = args ? args : "", *w, *bad = NULL;
	size_t len, i, k = 0;
	int rcpt_opt = 0;

	while ((w = next_word(&p, &len)) && !(len == 2 && !memcmp(w, "--", 2))) {
		if (len < 2 || w[0] != '%')
			continue;
		if (w[1] == 's' && env->sender && env->sender[0] == '-')
			bad = env->sender;
		else if (w[1] == 'i' && env->id && env->id[0] == '-')
			bad = env->id;
		rcpt_opt |= w[1] == 'r';
	}
	for (i = 0; i < n; i++) {
		if (bad || (rcpt_opt && rcpts[i][0] == '-'))
			mf_reply_set(&replies[i], 550, bad ? "5.1.7" : "5.1.3",
				     "pipe %s: <%s> would be read as an option (no -- before it)",
				     prog, bad ? bad : rcpts[i]);
		else
			run[k++] = rcpts[i];
	}
	return k;
}

static void free_strv(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Append s (taken over) to the NULL-terminated vector *v; -1 when out of memory. */
static int strv_add(char ***v, size_t *cnt, char *s)
{
	char **nv;

	if (!s)
		return -1;
	nv = realloc(*v, (*cnt + 2) * sizeof **v);
	if (!nv) {
		free(s);
		return -1;
	}
	*v = nv;
	nv[(*cnt)++] = s;
	nv[*cnt] = NULL;
	return 0;
}

/* One word with %s, %i and %%; -1 (EINVAL) for another macro. */
static int expand_word(const char *w, size_t len, const struct mf_envelope *env,
		       struct mf_buf *b)
{
	const char *e = w + len;

	mf_buf_reset(b);
	if (mf_buf_add(b, "", 0) < 0)
		return -1;
	for (; w < e; w++) {
		if (*w != '%') {
			if (mf_buf_add(b, w, 1) < 0)
				return -1;
			continue;
		}
		if (++w == e || (*w != 's' && *w != 'i' && *w != '%')) {
			errno = EINVAL; /* %r inside a word, or unknown */
			return -1;
		}
		if (mf_buf_adds(b, *w == 's' ? (env->sender ? env->sender : "")
				 : *w == 'i' ? (env->id ? env->id : "") : "%") < 0)
			return -1;
	}
	return 0;
}

/* argv from prog + args with macros; NULL (errno EINVAL) on a bad macro. */
static char **build_argv(const char *prog, const char *args,
			 const struct mf_envelope *env, const char **rcpts, size_t n)
{
	const char *p = args ? args : "", *w;
	struct mf_buf b = { 0 };
	char **argv = NULL;
	size_t cnt = 0, len, i;
	int rc = strv_add(&argv, &cnt, strdup(prog));

	while (rc == 0 && (w = next_word(&p, &len))) {
		if (len == 2 && !memcmp(w, "%r", 2)) {
			for (i = 0; i < n && rc == 0; i++)
				rc = strv_add(&argv, &cnt, strdup(rcpts[i]));
			continue;
		}
		rc = expand_word(w, len, env, &b);
		if (rc == 0)
			rc = strv_add(&argv, &cnt, strdup(b.data));
	}
	mf_buf_free(&b);
	if (rc == 0)
		return argv;
	free_strv(argv);
	return NULL;
}

/* The program's whole environment: PATH, SENDER, and RECIPIENT for one. */
static char **build_env(const struct mf_envelope *env, const char **rcpts, size_t n)
{
	struct mf_buf b = { 0 };
	char **envp = NULL;
	size_t cnt = 0;
	int rc = strv_add(&envp, &cnt, strdup("PATH=/usr/bin:/bin"));

	if (rc == 0 && mf_buf_addf(&b, "SENDER=%s", env->sender ? env->sender : "") == 0)
		rc = strv_add(&envp, &cnt, mf_buf_detach(&b));
	else
		rc = -1;
	if (rc == 0 && n == 1) {
		if (mf_buf_addf(&b, "RECIPIENT=%s", rcpts[0]) == 0)
			rc = strv_add(&envp, &cnt, mf_buf_detach(&b));
		else
			rc = -1;
	}
	mf_buf_free(&b);
	if (rc == 0)
		return envp;
	free_strv(envp);
	return NULL;
}

/* sysexits' permanent codes, and qmail's 100 (qmail-inject, qmail-local) */
static int exit_is_permanent(int code)
{
	return (code >= 64 && code <= 70) || (code >= 76 && code <= 78) || code == 100;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep the last non-empty line of what the program writes. */
static void keep_last(const char *buf, size_t n, char *line, size_t *ll, char *last,
		      size_t lastsz)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (*ll) {
				line[*ll] = '\0';
				snprintf(last, lastsz, "%s", line);
			}
			*ll = 0;
		} else if (*ll + 1 < MF_SMTP_TEXT_MAX) {
			line[(*ll)++] = buf[i];
		}
	}
}

/* Read the program's output until EOF (0) or the deadline (-2). */
static int read_output(int fd, int64_t deadline, char *last, size_t lastsz)
{
	char buf[4096], line[MF_SMTP_TEXT_MAX];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t ll = 0;
	int64_t ms;
	ssize_t r;

	for (;;) {
		ms = deadline - now_ms();
		if (ms <= 0 || poll(&pfd, 1, (int)(ms > INT_MAX ? INT_MAX : ms)) == 0)
			return -2;
		r = read(fd, buf, sizeof buf);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		keep_last(buf, (size_t)r, line, &ll, last, lastsz);
	}
	keep_last("\n", 1, line, &ll, last, lastsz);
	return 0;
}

/* Wait until the program has exited, without reaping it: 0, or -2 at the
 * deadline.  Not reaped, its pid still names its process group. */
static int wait_exit(pid_t pid, int64_t deadline)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
		    errno != EINTR)
			return 0; /* cannot happen: waitpid() below tells */
		if (si.si_pid == pid)
			return 0;
		if (now_ms() >= deadline)
			return -2;
		poll(NULL, 0, 10);
	}
}

/* The program's exit status, or -2 when the deadline came first; its whole
 * process group is killed in any case. */
static int collect(int fd, pid_t pid, int64_t deadline, char *last, size_t lastsz)
{
	int late = read_output(fd, deadline, last, lastsz);
	int status = 75 << 8; /* as if it exited 75, should it not be waited for */

	if (late == 0)
		late = wait_exit(pid, deadline);
	kill(-pid, SIGKILL); /* what it left behind; it is a session leader */
	kill(pid, SIGKILL);  /* in case it had not become one yet */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return late ? late : status;
}

/* Close every fd from low up: close_range(), or a loop up to RLIMIT_NOFILE. */
static void close_from(int low)
{
	struct rlimit rl;
	rlim_t fd, max = 1 << 20;

	if (close_range((unsigned)low, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
		max = rl.rlim_cur;
	for (fd = (rlim_t)low; fd < max; fd++)
		close((int)fd);
}

/* In the child: a session of its own, stdin in, stdout and stderr out. */
static void exec_child(const char *prog, char **argv, char **envp, int in, int out)
{
	static const int sigs[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGCHLD };
	sigset_t none;
	size_t i;

	setsid();
	in = fcntl(in, F_DUPFD, 3); /* above 2 first, whatever fds 0-2 were */
	out = fcntl(out, F_DUPFD, 3);
	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(75);
	close_from(3);
	for (i = 0; i < sizeof sigs / sizeof *sigs; i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(prog, argv, envp);
	dprintf(2, "exec %s: %s\n", prog, strerror(errno));
	_exit(75);
}

/* A process that writes prefix + message into a pipe: the program's stdin.
 * A separate process, so that a program that writes a lot before it reads
 * cannot deadlock us. */
static int feeder(const char *prefix, int msgfd, pid_t *pid)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	*pid = fork();
	if (*pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (*pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(p[0]);
		_exit(copy_message(p[1], prefix, msgfd) < 0 ? 1 : 0);
	}
	close(p[1]);
	return p[0];
}

static void stop_feeder(pid_t feed)
{
	if (feed <= 0)
		return;
	kill(feed, SIGKILL); /* done, or the program stopped reading */
	while (waitpid(feed, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The reply for a run that ended with status (-2: killed at the deadline). */
static void read_status(int status, const char *prog, int64_t timeout, const char *last,
			struct mf_smtp_reply *reply)
{
	int code;

	if (status == -2) {
		mf_reply_set(reply, 451, "4.4.7", "pipe %s: killed after %llds, with its "
			     "process group", prog, (long long)timeout);
	} else if (WIFSIGNALED(status)) {
		mf_reply_set(reply, 451, "4.3.0", "pipe %s: killed by signal %d %s", prog,
			     WTERMSIG(status), last);
	} else if ((code = WEXITSTATUS(status)) == 0) {
		mf_reply_set(reply, 250, "2.0.0", "pipe %s: ok", prog);
	} else if (exit_is_permanent(code)) {
		mf_reply_set(reply, 550, code == 67 ? "5.1.1" : "5.3.0",
			     "pipe %s: exit %d %s", prog, code, last);
	} else {
		mf_reply_set(reply, 451, "4.3.0", "pipe %s: exit %d %s", prog, code, last);
	}
}

/* Run the program once, with its argv and environment. */
static void run_program(const char *prog, char **argv, char **envp, int msgfd,
			int64_t timeout, const char *prefix, struct mf_smtp_reply *reply)
{
	char last[MF_SMTP_TEXT_MAX] = "";
	int in = msgfd, out[2], status;
	pid_t pid, feed = -1;

	if (prefix && *prefix && (in = feeder(prefix, msgfd, &feed)) < 0) {
		reply_errno(reply, errno, "pipe");
		return;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || lseek(msgfd, 0, SEEK_SET) < 0) {
		reply_errno(reply, errno, "pipe");
		if (in != msgfd)
			close(in);
		stop_feeder(feed);
		return;
	}
	pid = fork();
	if (pid == 0)
		exec_child(prog, argv, envp, in, out[1]);
	close(out[1]);
	if (in != msgfd)
		close(in);
	if (pid < 0) {
		reply_errno(reply, errno, "fork");
		close(out[0]);
		stop_feeder(feed);
		return;
	}
	if (timeout <= 0)
		timeout = 120;
	status = collect(out[0], pid, now_ms() + timeout * 1000, last, sizeof last);
	close(out[0]);
	stop_feeder(feed);
	read_status(status, prog, timeout, last, reply);
}

void mf_deliver_pipe(const char *prog, const char *args,
		     const struct mf_envelope *env, const char *const *rcpts,
		     size_t n, int msgfd, int64_t timeout, const char *prefix,
		     struct mf_smtp_reply *replies)
{
	const char **run = calloc(n ? n : 1, sizeof *run);
	struct mf_smtp_reply reply = { 0 };
	char **argv = NULL, **envp = NULL;
	size_t k = 0, i, j;

	if (run)
		k = guard_options(prog, args, env, rcpts, n, run, replies);
	if (!run) {
		mf_reply_set(&reply, 451, "4.3.0", "out of memory");
	} else if (k && !(argv = build_argv(prog, args, env, run, k))) {
		if (errno == EINVAL)
			mf_reply_set(&reply, 451, "4.3.5", "pipe %s: bad arguments '%s' "
				     "(%%r must stand alone)", prog, args);
		else
			mf_reply_set(&reply, 451, "4.3.0", "pipe %s: out of memory", prog);
	} else if (k && !(envp = build_env(env, run, k))) {
		mf_reply_set(&reply, 451, "4.3.0", "pipe %s: out of memory", prog);
	} else if (k) {
		run_program(prog, argv, envp, msgfd, timeout, prefix, &reply);
	}
	for (i = j = 0; i < n; i++) {
		if (run && (j >= k || run[j] != rcpts[i]))
			continue; /* refused by guard_options() */
		replies[i] = reply;
		j++;
	}
	free_strv(argv);
	free_strv(envp);
	free(run);
}
