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

/* dir with %u %d %a of rcpt; -1 when it does not fit or names a parent */
static int expand_dir(const char *tmpl, const char *rcpt, char *out, size_t outsz)
{
	const char *at = strrchr(rcpt, '@');
	size_t ulen = at ? (size_t)(at - rcpt) : strlen(rcpt);
	const char *dom = at ? at + 1 : "";
	struct mf_buf b = { 0 };
	int rc = 0;

	for (; *tmpl && rc == 0; tmpl++) {
		if (*tmpl != '%' || !tmpl[1]) {
			rc = mf_buf_add(&b, tmpl, 1);
			continue;
		}
		tmpl++;
		rc = *tmpl == 'u' ? mf_buf_add(&b, rcpt, ulen)
		   : *tmpl == 'd' ? mf_buf_adds(&b, dom)
		   : *tmpl == 'a' ? mf_buf_adds(&b, rcpt)
		   : mf_buf_add(&b, tmpl, 1);
	}
	if (rc == 0 && (!b.data || b.len >= outsz || strstr(b.data, "/../") ||
			strstr(b.data, "/./")))
		rc = -1;
	if (rc == 0)
		memcpy(out, b.data, b.len + 1);
	mf_buf_free(&b);
	return rc;
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

void mf_deliver_maildir(const char *tmpl, const struct mf_envelope *env,
			const char *rcpt, int msgfd, const char *host,
			const char *prefix, struct mf_smtp_reply *reply)
{
	char dir[PATH_MAX], sub[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX], name[256];
	static unsigned counter;
	struct timeval tv;
	int fd, saved;
	size_t i;

	if (expand_dir(tmpl, rcpt, dir, sizeof dir - 16) < 0) {
		mf_reply_set(reply, 451, "4.3.5", "maildir path %s: bad for <%s>", tmpl, rcpt);
		return;
	}
	for (i = 0; i < 3; i++) {
		if (snprintf(sub, sizeof sub, "%.4000s/%s", dir,
			     i == 0 ? "tmp" : i == 1 ? "new" : "cur") < 0 || mkdirs(sub) < 0) {
			reply_errno(reply, errno, sub);
			return;
		}
	}
	gettimeofday(&tv, NULL);
	snprintf(name, sizeof name, "%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), ++counter, host);
	if (snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, name) >= (int)sizeof tmp ||
	    snprintf(dst, sizeof dst, "%s/new/%s", dir, name) >= (int)sizeof dst) {
		mf_reply_set(reply, 451, "4.3.5", "maildir path too long");
		return;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		reply_errno(reply, errno, tmp);
		return;
	}
	if (write_copy(fd, env, rcpt, msgfd, prefix) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		reply_errno(reply, saved, tmp);
		return;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0) {
		saved = errno;
		unlink(tmp);
		reply_errno(reply, saved, dst);
		return;
	}
	snprintf(sub, sizeof sub, "%.4000s/new", dir);
	fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		reply_errno(reply, saved, sub);
		return; /* the copy may be there: a retry may duplicate, never lose */
	}
	close(fd);
	mf_reply_set(reply, 250, "2.0.0", "delivered to maildir %s", dir);
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
