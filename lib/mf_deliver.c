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
 * makes its component empty or longer than NAME_MAX.
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

/* Component [s, e) of the template for rcpt into out[NAME_MAX + 1]: 1 when it
 * is made of macros, 0 when not, -1 (reply set) when it cannot be used. */
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
		goto bad_value;
	if (!strcmp(out, ".") || !strcmp(out, "..")) {
		mf_reply_set(r, 451, "4.3.5", "maildir path: a component '%s' is refused", out);
		return -1;
	}
	return macro;
bad_value:
	mf_reply_set(r, 550, "5.1.3", "maildir: <%s> cannot name a mailbox ('/', leading '.', "
		     "control character, empty or too long)", rcpt);
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
	const char *pct = strchr(tmpl, '%'), *s, *e;
	char name[NAME_MAX + 1];
	size_t start;

	s = pct ? pct : tmpl + strlen(tmpl);
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
		if (expand_component(s, e, rcpt, name, r) < 0 || walk_step(w, name, r) < 0)
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

/* argv from prog + args with macros; NULL (errno EINVAL) on a bad macro. */
static char **build_argv(const char *prog, const char *args,
			 const struct mf_envelope *env, const char *const *rcpts,
			 size_t n)
{
	char *copy = strdup(args ? args : ""), *tok, *save;
	size_t cap = n + 16, cnt = 0, i;
	char **argv = calloc(cap, sizeof *argv);
	struct mf_buf b = { 0 };
	const char *p;

	if (!copy || !argv)
		goto fail;
	argv[cnt++] = strdup(prog);
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(tok, "%r")) {
			for (i = 0; i < n; i++) {
				if (cnt + 2 >= cap) {
					char **nv = realloc(argv, (cap *= 2) * sizeof *argv);
					if (!nv)
						goto fail;
					argv = nv;
				}
				argv[cnt++] = strdup(rcpts[i]);
			}
			continue;
		}
		mf_buf_reset(&b);
		for (p = tok; *p; p++) {
			if (*p != '%') {
				mf_buf_add(&b, p, 1);
				continue;
			}
			p++;
			if (*p == 's')
				mf_buf_adds(&b, env->sender ? env->sender : "");
			else if (*p == 'i')
				mf_buf_adds(&b, env->id ? env->id : "");
			else if (*p == '%')
				mf_buf_add(&b, "%", 1);
			else {
				errno = EINVAL; /* %r inside a word, or unknown */
				goto fail;
			}
		}
		if (cnt + 2 >= cap) {
			char **nv = realloc(argv, (cap *= 2) * sizeof *argv);
			if (!nv)
				goto fail;
			argv = nv;
		}
		argv[cnt++] = b.data ? strdup(b.data) : strdup("");
	}
	argv[cnt] = NULL;
	free(copy);
	mf_buf_free(&b);
	return argv;
fail:
	free(copy);
	mf_buf_free(&b);
	if (argv)
		for (i = 0; i < cnt; i++)
			free(argv[i]);
	free(argv);
	return NULL;
}

static void free_argv(char **argv)
{
	size_t i;

	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* sysexits' permanent codes, and qmail's 100 (qmail-inject, qmail-local) */
static int exit_is_permanent(int code)
{
	return (code >= 64 && code <= 70) || (code >= 76 && code <= 78) || code == 100;
}

/* Read the child's output until EOF or the deadline; keep the last line. */
static int collect(int fd, pid_t pid, time_t deadline, char *last, size_t lastsz)
{
	char buf[4096], line[MF_SMTP_TEXT_MAX] = "";
	size_t ll = 0;
	ssize_t r;
	int status = 0, ms;
	struct pollfd pfd = { fd, POLLIN, 0 };

	for (;;) {
		ms = (int)(deadline - time(NULL)) * 1000;
		if (ms <= 0 || poll(&pfd, 1, ms) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -2;
		}
		r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\n') {
				if (ll) {
					line[ll] = '\0';
					snprintf(last, lastsz, "%s", line);
				}
				ll = 0;
			} else if (ll + 1 < sizeof line) {
				line[ll++] = buf[i];
			}
		}
	}
	if (ll) {
		line[ll] = '\0';
		snprintf(last, lastsz, "%s", line);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
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

void mf_deliver_pipe(const char *prog, const char *args,
		     const struct mf_envelope *env, const char *const *rcpts,
		     size_t n, int msgfd, int64_t timeout, const char *prefix,
		     struct mf_smtp_reply *reply)
{
	pid_t feed = -1;
	int in = msgfd;
	char **argv = build_argv(prog, args, env, rcpts, n);
	char last[MF_SMTP_TEXT_MAX] = "";
	int out[2], status, code;
	pid_t pid;

	if (!argv) {
		mf_reply_set(reply, 451, "4.3.5", "pipe %s: bad arguments '%s' (%%r must stand alone)",
			     prog, args);
		return;
	}
	if (prefix && *prefix && (in = feeder(prefix, msgfd, &feed)) < 0) {
		reply_errno(reply, errno, "pipe");
		free_argv(argv);
		return;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || lseek(msgfd, 0, SEEK_SET) < 0) {
		reply_errno(reply, errno, "pipe");
		if (in != msgfd)
			close(in);
		free_argv(argv);
		return;
	}
	pid = fork();
	if (pid == 0) {
		dup2(in, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execv(prog, argv);
		dprintf(2, "exec %s: %s\n", prog, strerror(errno));
		_exit(75);
	}
	close(out[1]);
	if (in != msgfd)
		close(in);
	if (pid < 0) {
		reply_errno(reply, errno, "fork");
		close(out[0]);
		free_argv(argv);
		if (feed > 0) {
			kill(feed, SIGKILL);
			waitpid(feed, NULL, 0);
		}
		return;
	}
	status = collect(out[0], pid, time(NULL) + (timeout > 0 ? timeout : 120), last, sizeof last);
	close(out[0]);
	free_argv(argv);
	if (feed > 0) {
		kill(feed, SIGKILL); /* done, or the program stopped reading */
		while (waitpid(feed, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (status == -2) {
		mf_reply_set(reply, 451, "4.4.7", "pipe %s: killed after %llds", prog,
			     (long long)timeout);
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
