/* SPDX-License-Identifier: MIT */
/* SMTP and LMTP client: one session, many transactions (see mf_smtp.h). */
#include "mf_smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mf_buf.h"
#include "mf_log.h"

/*
 * Rationale: the socket stays non-blocking for the whole session and every
 * wait is a poll() against a deadline, so one code path serves plain TCP,
 * unix sockets and TLS (SSL_read/SSL_write asking to be retried).  Commands
 * are built into one buffer and written with one call: with PIPELINING the
 * whole MAIL/RCPT/DATA group leaves in one segment.
 */

#define EXT_PIPELINING 0x01
#define EXT_SIZE       0x02
#define EXT_8BITMIME   0x04
#define EXT_SMTPUTF8   0x08
#define EXT_STARTTLS   0x10
#define EXT_AUTH_PLAIN 0x20
#define EXT_AUTH_LOGIN 0x40
#define EXT_AUTH       0x80

#define BLOCK_SIZE (64 * 1024)
#define QUIT_TIMEOUT 5

struct mf_smtp {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct mf_smtp_opts o;       /* timeouts resolved to seconds */
	const char *peer_name;       /* borrowed from the caller for open only */
	char addr[160];              /* "127.0.0.1:25", "[::1]:25", "/run/lmtp" */
	char peer[320];              /* "name[127.0.0.1]:25" */
	const char *cmd;             /* the command waiting for its reply */
	unsigned ext;
	uint64_t max_size;
	int need_rset, broken;
	int lmtp_cut;                /* broken after some LMTP replies (kept) */
	const char *prefix;          /* header lines sent before the message */
	size_t rpos, rlen;
	char rbuf[8192];
};

static int t_or(int t, int def)
{
	return t > 0 ? t : def;
}

static void opts_resolve(struct mf_smtp_opts *o)
{
	o->t_connect = t_or(o->t_connect, 30);
	o->t_helo = t_or(o->t_helo, 300);
	o->t_mail = t_or(o->t_mail, 300);
	o->t_rcpt = t_or(o->t_rcpt, 300);
	o->t_data = t_or(o->t_data, 120);
	o->t_block = t_or(o->t_block, 180);
	o->t_eod = t_or(o->t_eod, 600);
	o->t_other = t_or(o->t_other, 120);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- SIGPIPE: OpenSSL writes with write(), so a peer's reset would kill us --- */

static void pipe_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void pipe_restore(const sigset_t *old)
{
	struct timespec zero = { 0, 0 };
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!sigismember(old, SIGPIPE) && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGPIPE))
		sigtimedwait(&set, NULL, &zero);
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* --- errors --- */

static enum mf_status sess_fail(struct mf_smtp *s, struct mf_err *err,
				const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum mf_status sess_fail(struct mf_smtp *s, struct mf_err *err,
				const char *dsn, const char *fmt, ...)
{
	char what[MF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	s->broken = 1;
	mf_err_set(err, MF_ETEMP, "%s: %s", s->peer, what);
	mf_err_dsn(err, dsn);
	return MF_ETEMP;
}

static enum mf_status io_fail(struct mf_smtp *s, struct mf_err *err, int rc)
{
	if (rc == -2)
		return sess_fail(s, err, "4.4.2", "timeout after %s", s->cmd);
	if (rc == -3)
		return sess_fail(s, err, "4.4.2", "lost connection after %s", s->cmd);
	if (rc == -4)
		return sess_fail(s, err, "4.7.0", "TLS error after %s: %s", s->cmd,
				 ERR_reason_error_string(ERR_get_error()) ?: "unknown");
	return sess_fail(s, err, "4.4.2", "I/O error after %s: %s", s->cmd,
			 strerror(errno));
}

/* --- waiting and raw I/O; -1 errno, -2 timeout, -3 EOF, -4 TLS --- */

static int io_wait(struct mf_smtp *s, short events, long long deadline)
{
	struct pollfd p = { .fd = s->fd, .events = events };
	long long left;
	int rc;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -2;
		rc = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* A non-blocking SSL call's error turned into a wait (0) or a failure. */
static int ssl_retry(struct mf_smtp *s, int ret, long long deadline)
{
	switch (SSL_get_error(s->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return io_wait(s, POLLIN, deadline);
	case SSL_ERROR_WANT_WRITE:
		return io_wait(s, POLLOUT, deadline);
	case SSL_ERROR_ZERO_RETURN:
		return -3;
	case SSL_ERROR_SYSCALL:
		return errno ? -1 : -3;
	default:
		return -4;
	}
}

static int raw_write(struct mf_smtp *s, const char *p, size_t n, int timeout)
{
	long long deadline = now_ms() + (long long)timeout * 1000;
	ssize_t w;
	int rc;

	while (n) {
		if (s->ssl) {
			ERR_clear_error();
			w = SSL_write(s->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (w <= 0) {
				if ((rc = ssl_retry(s, (int)w, deadline)) < 0)
					return rc;
				continue;
			}
		} else {
			w = send(s->fd, p, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return errno == EPIPE || errno == ECONNRESET ? -3 : -1;
				if ((rc = io_wait(s, POLLOUT, deadline)) < 0)
					return rc;
				continue;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int raw_fill(struct mf_smtp *s, long long deadline)
{
	ssize_t r;
	int rc;

	if (s->rpos == s->rlen)
		s->rpos = s->rlen = 0;
	for (;;) {
		if (s->ssl) {
			ERR_clear_error();
			r = SSL_read(s->ssl, s->rbuf + s->rlen,
				     (int)(sizeof s->rbuf - s->rlen));
			if (r <= 0) {
				if ((rc = ssl_retry(s, (int)r, deadline)) < 0)
					return rc;
				continue;
			}
		} else {
			r = recv(s->fd, s->rbuf + s->rlen, sizeof s->rbuf - s->rlen, 0);
			if (r == 0)
				return -3;
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return errno == ECONNRESET ? -3 : -1;
				if ((rc = io_wait(s, POLLIN, deadline)) < 0)
					return rc;
				continue;
			}
		}
		s->rlen += (size_t)r;
		return 0;
	}
}

/* One reply line without CR/LF into line (truncated to linesz - 1). */
static int read_line(struct mf_smtp *s, char *line, size_t linesz,
		     long long deadline)
{
	size_t n = 0;
	char c;
	int rc;

	for (;;) {
		if (s->rpos == s->rlen) {
			if (s->rlen == sizeof s->rbuf)
				s->rpos = s->rlen = 0;
			if ((rc = raw_fill(s, deadline)) < 0)
				return rc;
		}
		c = s->rbuf[s->rpos++];
		if (c == '\n')
			break;
		if (n + 1 < linesz)
			line[n++] = c;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* --- replies --- */

static void text_add(struct mf_smtp_reply *r, const char *p)
{
	size_t n = strlen(r->text);

	if (n && n + 1 < sizeof r->text)
		r->text[n++] = ' ';
	for (; *p && n + 1 < sizeof r->text; p++)
		r->text[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
	r->text[n] = '\0';
}

/* "2.1.5 " at the start of p whose class matches the reply code's. */
static void dsn_parse(struct mf_smtp_reply *r, const char *p)
{
	size_t n = strspn(p, "0123456789.");
	int a, b, c, used = 0;

	if (n < 5 || n >= sizeof r->dsn || (p[n] && p[n] != ' '))
		return;
	if (sscanf(p, "%1d.%3d.%3d%n", &a, &b, &c, &used) != 3 || (size_t)used != n)
		return;
	if (a != r->code / 100)
		return;
	memcpy(r->dsn, p, n);
	r->dsn[n] = '\0';
}

static void ext_parse(struct mf_smtp *s, const char *p)
{
	const char *arg = p + strcspn(p, " ");

	if (!strncasecmp(p, "PIPELINING", 10) && (!p[10] || p[10] == ' '))
		s->ext |= EXT_PIPELINING;
	else if (!strncasecmp(p, "SIZE", 4) && (!p[4] || p[4] == ' ')) {
		s->ext |= EXT_SIZE;
		s->max_size = strtoull(arg, NULL, 10);
	} else if (!strcasecmp(p, "8BITMIME"))
		s->ext |= EXT_8BITMIME;
	else if (!strcasecmp(p, "SMTPUTF8"))
		s->ext |= EXT_SMTPUTF8;
	else if (!strcasecmp(p, "STARTTLS"))
		s->ext |= EXT_STARTTLS;
	else if (!strncasecmp(p, "AUTH ", 5)) {
		s->ext |= EXT_AUTH;
		for (p = arg; *p; p += strcspn(p, " ")) {
			p += strspn(p, " ");
			if (!strncasecmp(p, "PLAIN", 5) && (!p[5] || p[5] == ' '))
				s->ext |= EXT_AUTH_PLAIN;
			if (!strncasecmp(p, "LOGIN", 5) && (!p[5] || p[5] == ' '))
				s->ext |= EXT_AUTH_LOGIN;
		}
	}
}

static int line_code(const char *l)
{
	if (l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9' || (l[3] && l[3] != ' ' && l[3] != '-'))
		return 0;
	return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

/* Read one (multi-line) reply; ehlo: parse each line after the first as an extension. */
static enum mf_status read_reply(struct mf_smtp *s, int timeout, int ehlo,
				 struct mf_smtp_reply *r, struct mf_err *err)
{
	long long deadline = now_ms() + (long long)timeout * 1000;
	char line[1024];
	const char *rest;
	int rc, code, more, first = 1;

	memset(r, 0, sizeof *r);
	for (;;) {
		if ((rc = read_line(s, line, sizeof line, deadline)) < 0)
			return io_fail(s, err, rc);
		mf_log(LOG_DEBUG, "%s < %s", s->peer, line);
		code = line_code(line);
		if (!code || (!first && code != r->code))
			return sess_fail(s, err, "4.5.0", "bad reply after %s: %.100s",
					 s->cmd, line);
		more = line[3] == '-';
		rest = line[3] ? line + 4 : "";
		if (first) {
			r->code = code;
			line[3] = '\0';
			text_add(r, line);
			dsn_parse(r, rest);
		} else if (ehlo) {
			ext_parse(s, rest);
		}
		if (*rest)
			text_add(r, rest);
		first = 0;
		if (!more)
			return MF_OK;
	}
}

/* Write one buffer of commands under the current command's name. */
static enum mf_status send_buf(struct mf_smtp *s, const char *p, size_t n,
			       int timeout, struct mf_err *err)
{
	int rc = raw_write(s, p, n, timeout);

	return rc < 0 ? io_fail(s, err, rc) : MF_OK;
}

static void trace_cmds(struct mf_smtp *s, const char *p, size_t n)
{
	const char *e;

	for (; n; n -= (size_t)(e - p) + 1, p = e + 1) {
		e = memchr(p, '\n', n);
		if (!e)
			break;
		if (s->cmd && !strcmp(s->cmd, "AUTH"))
			mf_log(LOG_DEBUG, "%s > AUTH ...", s->peer);
		else
			mf_log(LOG_DEBUG, "%s > %.*s", s->peer,
			       (int)(e - p) - (e > p && e[-1] == '\r'), p);
	}
}

/* Send one command line (CRLF added) and read its reply. */
static enum mf_status command(struct mf_smtp *s, const char *name, int timeout,
			      struct mf_smtp_reply *r, struct mf_err *err,
			      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum mf_status command(struct mf_smtp *s, const char *name, int timeout,
			      struct mf_smtp_reply *r, struct mf_err *err,
			      const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2)
		return mf_err_set(err, MF_EADDR, "%s: %s command too long", s->peer, name);
	memcpy(line + n, "\r\n", 3);
	s->cmd = name;
	trace_cmds(s, line, (size_t)n + 2);
	rc = send_buf(s, line, (size_t)n + 2, timeout, err);
	explicit_bzero(line, sizeof line);
	if (rc)
		return err->status;
	return read_reply(s, timeout, !strcmp(name, "EHLO") || !strcmp(name, "LHLO"),
			  r, err);
}

/* --- connect --- */

static void addr_fmt(struct mf_smtp *s, const struct sockaddr *sa, socklen_t salen,
		     const char *peer_name)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
	size_t plen;

	if (sa->sa_family == AF_UNIX) {
		plen = salen > offsetof(struct sockaddr_un, sun_path) ?
			salen - offsetof(struct sockaddr_un, sun_path) : 0;
		snprintf(s->addr, sizeof s->addr, "%.*s",
			 (int)strnlen(un->sun_path, plen), un->sun_path);
		snprintf(s->peer, sizeof s->peer, "%.150s[%.150s]",
			 peer_name && *peer_name ? peer_name : "unix", s->addr);
		return;
	}
	if (getnameinfo(sa, salen, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, sizeof host, "?");
		snprintf(serv, sizeof serv, "?");
	}
	snprintf(s->addr, sizeof s->addr, sa->sa_family == AF_INET6 ? "[%.64s]:%.8s" : "%.64s:%.8s",
		 host, serv);
	snprintf(s->peer, sizeof s->peer, "%.200s[%.64s]:%.8s",
		 peer_name && *peer_name ? peer_name : host, host, serv);
}

static enum mf_status do_connect(struct mf_smtp *s, const struct sockaddr *sa,
				 socklen_t salen, struct mf_err *err)
{
	int one = 1, soerr = 0, rc;
	socklen_t len = sizeof soerr;

	s->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return mf_err_errno(err, errno, "socket for %s", s->addr);
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s->fd, sa, salen) == 0)
		return MF_OK;
	if (errno != EINPROGRESS && errno != EINTR)
		soerr = errno;
	else if ((rc = io_wait(s, POLLOUT, now_ms() + (long long)s->o.t_connect * 1000)) == -2)
		soerr = ETIMEDOUT;
	else if (rc < 0)
		soerr = errno;
	else if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (!soerr)
		return MF_OK;
	mf_err_set(err, MF_ETEMP, "connect %s: %s", s->addr, strerror(soerr));
	mf_err_dsn(err, "4.4.1");
	return MF_ETEMP;
}

/* --- TLS --- */

static enum mf_status tls_fail(struct mf_smtp *s, struct mf_err *err, int rc)
{
	unsigned long e = ERR_peek_error();
	long vr = s->ssl ? SSL_get_verify_result(s->ssl) : X509_V_OK;
	char buf[256];

	if (rc == -2)
		return sess_fail(s, err, "4.4.2", "timeout in TLS handshake");
	if (vr != X509_V_OK)
		return sess_fail(s, err, "4.7.5", "TLS handshake: certificate: %s",
				 X509_verify_cert_error_string(vr));
	if (e) {
		ERR_error_string_n(e, buf, sizeof buf);
		ERR_clear_error();
		return sess_fail(s, err, "4.7.5", "TLS handshake: %s", buf);
	}
	return sess_fail(s, err, "4.7.5", "TLS handshake: %s",
			 rc == -3 ? "connection closed" : strerror(errno));
}

static int is_ip_literal(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static enum mf_status tls_setup(struct mf_smtp *s, struct mf_err *err)
{
	const char *name = s->o.tls_name ? s->o.tls_name : s->peer_name;

	if (!(s->ctx = SSL_CTX_new(TLS_client_method())))
		return tls_fail(s, err, -4);
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(s->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (s->o.tls == MF_TLS_VERIFY) {
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
		if (s->o.ca_file ? !SSL_CTX_load_verify_locations(s->ctx, s->o.ca_file, NULL)
				 : !SSL_CTX_set_default_verify_paths(s->ctx))
			return tls_fail(s, err, -4);
	}
	if (!(s->ssl = SSL_new(s->ctx)) || !SSL_set_fd(s->ssl, s->fd))
		return tls_fail(s, err, -4);
	if (name && *name && !is_ip_literal(name))
		SSL_set_tlsext_host_name(s->ssl, name);
	if (s->o.tls == MF_TLS_VERIFY) {
		if (!name || !*name)
			return sess_fail(s, err, "4.7.5", "TLS: no name to verify");
		SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!(is_ip_literal(name) ?
		      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), name) :
		      X509_VERIFY_PARAM_set1_host(SSL_get0_param(s->ssl), name, 0)))
			return tls_fail(s, err, -4);
	}
	return MF_OK;
}

static enum mf_status tls_handshake(struct mf_smtp *s, struct mf_err *err)
{
	long long deadline = now_ms() + (long long)s->o.t_helo * 1000;
	int ret, rc;

	if (s->rpos != s->rlen)   /* plaintext sent after 220 would be trusted later */
		return sess_fail(s, err, "4.7.0", "data after STARTTLS reply");
	if (tls_setup(s, err))
		return err->status;
	for (;;) {
		ERR_clear_error();
		if ((ret = SSL_connect(s->ssl)) == 1)
			break;
		if ((rc = ssl_retry(s, ret, deadline)) < 0)
			return tls_fail(s, err, rc);
	}
	mf_log(LOG_DEBUG, "%s: TLS %s %s", s->peer, SSL_get_version(s->ssl),
	       SSL_get_cipher_name(s->ssl));
	return MF_OK;
}

/* --- session start --- */

static enum mf_status refused(struct mf_smtp *s, struct mf_err *err,
			      const struct mf_smtp_reply *r)
{
	return sess_fail(s, err, r->dsn[0] == '4' || r->dsn[0] == '5' ? r->dsn : "4.4.0",
			 "%s refused: %s", s->cmd, r->text);
}

static enum mf_status hello(struct mf_smtp *s, struct mf_err *err)
{
	const char *me = s->o.helo_name && *s->o.helo_name ? s->o.helo_name : "localhost";
	const char *verb = s->o.lmtp ? "LHLO" : "EHLO";
	struct mf_smtp_reply r;

	s->ext = 0;
	s->max_size = 0;
	if (command(s, verb, s->o.t_helo, &r, err, "%s %s", verb, me))
		return err->status;
	if (r.code / 100 == 2)
		return MF_OK;
	if (r.code / 100 != 5 || s->o.lmtp)
		return refused(s, err, &r);
	if (command(s, "HELO", s->o.t_helo, &r, err, "HELO %s", me))
		return err->status;
	return r.code / 100 == 2 ? MF_OK : refused(s, err, &r);
}

static enum mf_status starttls(struct mf_smtp *s, struct mf_err *err)
{
	struct mf_smtp_reply r;

	if (s->o.tls == MF_TLS_NONE)
		return MF_OK;
	if (!(s->ext & EXT_STARTTLS)) {
		if (s->o.tls == MF_TLS_MAY)
			return MF_OK;
		s->broken = 1;
		mf_err_set(err, MF_ETEMP, "TLS required but not offered by %s", s->peer);
		mf_err_dsn(err, "4.7.4");
		return MF_ETEMP;
	}
	if (command(s, "STARTTLS", s->o.t_helo, &r, err, "STARTTLS"))
		return err->status;
	if (r.code != 220) {
		if (s->o.tls == MF_TLS_MAY) {
			mf_log(LOG_INFO, "%s: STARTTLS refused, going on in plain text: %s",
			       s->peer, r.text);
			return MF_OK;
		}
		return refused(s, err, &r);
	}
	if (tls_handshake(s, err))
		return err->status;
	return hello(s, err);
}

static char *b64(const char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
	return out;
}

static void wipe_free(char *p)
{
	if (p) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
}

static enum mf_status auth_plain(struct mf_smtp *s, struct mf_smtp_reply *r,
				 struct mf_err *err)
{
	const char *u = s->o.auth_user, *pw = s->o.auth_pass ? s->o.auth_pass : "";
	size_t ul = strlen(u), pl = strlen(pw);
	char *raw = malloc(ul + pl + 3), *enc;
	enum mf_status st;

	if (!raw)
		return mf_err_set(err, MF_ENOMEM, "%s: AUTH: out of memory", s->peer);
	raw[0] = '\0';
	memcpy(raw + 1, u, ul + 1);
	memcpy(raw + ul + 2, pw, pl);
	enc = b64(raw, ul + pl + 2);
	explicit_bzero(raw, ul + pl + 2);
	free(raw);
	if (!enc)
		return mf_err_set(err, MF_ENOMEM, "%s: AUTH: out of memory", s->peer);
	st = command(s, "AUTH", s->o.t_other, r, err, "AUTH PLAIN %s", enc);
	wipe_free(enc);
	return st;
}

static enum mf_status auth_login(struct mf_smtp *s, struct mf_smtp_reply *r,
				 struct mf_err *err)
{
	const char *pw = s->o.auth_pass ? s->o.auth_pass : "";
	char *enc;
	enum mf_status st;

	if (command(s, "AUTH", s->o.t_other, r, err, "AUTH LOGIN"))
		return err->status;
	if (r->code != 334)
		return MF_OK;
	if (!(enc = b64(s->o.auth_user, strlen(s->o.auth_user))))
		return mf_err_set(err, MF_ENOMEM, "%s: AUTH: out of memory", s->peer);
	st = command(s, "AUTH", s->o.t_other, r, err, "%s", enc);
	wipe_free(enc);
	if (st || r->code != 334)
		return st;
	if (!(enc = b64(pw, strlen(pw))))
		return mf_err_set(err, MF_ENOMEM, "%s: AUTH: out of memory", s->peer);
	st = command(s, "AUTH", s->o.t_other, r, err, "%s", enc);
	wipe_free(enc);
	return st;
}

/* Credentials go only over TLS; a refusal defers (an admin fixes them). */
static enum mf_status auth(struct mf_smtp *s, struct mf_err *err)
{
	struct mf_smtp_reply r;

	if (!s->o.auth_user)
		return MF_OK;
	if (!s->ssl)
		return sess_fail(s, err, "4.7.0", "AUTH configured but the session is not encrypted");
	if (!(s->ext & (EXT_AUTH_PLAIN | EXT_AUTH_LOGIN))) {
		mf_log(LOG_WARNING, "%s: AUTH PLAIN/LOGIN not offered, going on without", s->peer);
		return MF_OK;
	}
	if ((s->ext & EXT_AUTH_PLAIN ? auth_plain(s, &r, err) : auth_login(s, &r, err)))
		return err->status;
	if (r.code != 235)
		return sess_fail(s, err, "4.7.8", "AUTH failed: %s", r.text);
	return MF_OK;
}

static enum mf_status session_open(struct mf_smtp **sp, const struct sockaddr *sa,
				   socklen_t salen, const char *peer_name,
				   const struct mf_smtp_opts *o, struct mf_err *err)
{
	struct mf_smtp *s = calloc(1, sizeof *s);
	struct mf_smtp_reply r;

	*sp = NULL;
	if (!s)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	s->fd = -1;
	s->o = *o;
	opts_resolve(&s->o);
	s->peer_name = peer_name;
	addr_fmt(s, sa, salen, peer_name);
	s->cmd = "greeting";
	if (do_connect(s, sa, salen, err) ||
	    read_reply(s, s->o.t_helo, 0, &r, err) ||
	    (r.code != 220 && refused(s, err, &r)) ||
	    hello(s, err) || starttls(s, err) || auth(s, err)) {
		s->broken = 1;
		mf_smtp_close(s);
		return err->status;
	}
	s->peer_name = NULL;
	*sp = s;
	return MF_OK;
}

enum mf_status mf_smtp_open(struct mf_smtp **sp, const struct sockaddr *sa,
			    socklen_t salen, const char *peer_name,
			    const struct mf_smtp_opts *o, struct mf_err *err)
{
	struct mf_err local;
	enum mf_status st;
	sigset_t old;

	pipe_block(&old);
	st = session_open(sp, sa, salen, peer_name, o, err ? err : &local);
	pipe_restore(&old);
	return st;
}

/* --- one transaction --- */

struct msg_info {
	uint64_t wire_size;
	int eight_bit;
};

static enum mf_status msg_scan(struct mf_smtp *s, int fd, uint64_t size,
			       struct msg_info *mi, struct mf_err *err)
{
	static char buf[BLOCK_SIZE];
	uint64_t off = 0;
	ssize_t r, i;

	mi->wire_size = size + (s->prefix ? 2 * strlen(s->prefix) : 0);
	mi->eight_bit = 0;
	while ((r = pread(fd, buf, sizeof buf, (off_t)off)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return mf_err_errno(err, errno, "%s: read message", s->peer);
		}
		for (i = 0; i < r; i++) {
			mi->wire_size += buf[i] == '\n';
			mi->eight_bit |= (unsigned char)buf[i] >= 0x80;
		}
		off += (uint64_t)r;
	}
	return MF_OK;
}

static int non_ascii(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

static void reply_set(struct mf_smtp_reply *r, int code, const char *dsn,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void reply_set(struct mf_smtp_reply *r, int code, const char *dsn,
		      const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	snprintf(r->dsn, sizeof r->dsn, "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
}

static void copy_to_all(struct mf_smtp_rcpt *rc, size_t n, const struct mf_smtp_reply *r,
			int only_accepted)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!only_accepted || rc[i].reply.code / 100 == 2)
			rc[i].reply = *r;
}

static enum mf_status add_mail(struct mf_smtp *s, struct mf_buf *b, const char *sender,
			       const struct msg_info *mi, int utf8, struct mf_err *err)
{
	int rc = mf_buf_addf(b, "MAIL FROM:<%s>", sender);

	if (!rc && (s->ext & EXT_SIZE))
		rc = mf_buf_addf(b, " SIZE=%llu", (unsigned long long)mi->wire_size);
	if (!rc && mi->eight_bit && (s->ext & EXT_8BITMIME))
		rc = mf_buf_adds(b, " BODY=8BITMIME");
	if (!rc && utf8)
		rc = mf_buf_adds(b, " SMTPUTF8");
	if (!rc)
		rc = mf_buf_adds(b, "\r\n");
	return rc ? mf_err_set(err, MF_ENOMEM, "%s: out of memory", s->peer) : MF_OK;
}

static enum mf_status flush_cmds(struct mf_smtp *s, struct mf_buf *b, const char *name,
				 int timeout, struct mf_err *err)
{
	enum mf_status st;

	s->cmd = name;
	trace_cmds(s, b->data, b->len);
	st = send_buf(s, b->data, b->len, timeout, err);
	mf_buf_reset(b);
	return st;
}

/* Dot-stuff and CRLF one block into out; *bol and *prev carry across blocks. */
static size_t stuff_block(const char *in, size_t n, char *out, int *bol, char *prev)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < n; i++) {
		c = in[i];
		if (*bol && c == '.')
			out[o++] = '.';
		if (c == '\n' && *prev != '\r')
			out[o++] = '\r';
		out[o++] = c;
		*bol = c == '\n';
		*prev = c;
	}
	return o;
}

static enum mf_status send_body(struct mf_smtp *s, int fd, struct mf_err *err)
{
	static char in[BLOCK_SIZE], out[2 * BLOCK_SIZE + 8];
	uint64_t off = 0;
	size_t o;
	ssize_t r;
	int bol = 1, rc;
	char prev = '\n';

	s->cmd = "DATA";
	if (s->prefix && *s->prefix) {
		size_t n = strlen(s->prefix);
		o = stuff_block(s->prefix, n > BLOCK_SIZE ? BLOCK_SIZE : n, out, &bol, &prev);
		if ((rc = raw_write(s, out, o, s->o.t_block)) < 0)
			return io_fail(s, err, rc);
	}
	while ((r = pread(fd, in, sizeof in, (off_t)off)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			s->broken = 1;
			return mf_err_errno(err, errno, "%s: read message", s->peer);
		}
		off += (uint64_t)r;
		o = stuff_block(in, (size_t)r, out, &bol, &prev);
		if ((rc = raw_write(s, out, o, s->o.t_block)) < 0)
			return io_fail(s, err, rc);
	}
	o = 0;
	if (!bol)
		out[o++] = '\r', out[o++] = '\n';
	memcpy(out + o, ".\r\n", 3);
	mf_log(LOG_DEBUG, "%s > (%llu bytes) .", s->peer, (unsigned long long)off);
	s->cmd = "end of data";
	if ((rc = raw_write(s, out, o + 3, s->o.t_block)) < 0)
		return io_fail(s, err, rc);
	return MF_OK;
}

static size_t count_accepted(const struct mf_smtp_rcpt *rc, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += rc[i].reply.code / 100 == 2;
	return k;
}

/*
 * LMTP after the dot: the session broke after the replies of rc[0..i-1] came.
 * Those replies are final -- the server may have delivered -- so they are
 * kept, and the recipients still waiting get a temporary reply: only they are
 * tried again.  The session is unusable (mf_smtp_usable says so).
 */
static enum mf_status lmtp_cut(struct mf_smtp *s, struct mf_smtp_rcpt *rc,
			       size_t i, size_t n, const struct mf_err *err)
{
	for (; i < n; i++) {
		if (rc[i].reply.code / 100 != 2)
			continue;
		rc[i].reply.code = 451;
		snprintf(rc[i].reply.dsn, sizeof rc[i].reply.dsn, "4.4.2");
		snprintf(rc[i].reply.text, sizeof rc[i].reply.text, "451 4.4.2 %.490s", err->msg);
	}
	s->broken = 1;
	s->lmtp_cut = 1;
	return MF_OK;
}

/* The reply to DATA, then the body and the final reply (one per recipient for LMTP). */
static enum mf_status data_phase(struct mf_smtp *s, const struct mf_smtp_reply *dr,
				 struct mf_smtp_rcpt *rc, size_t n, int msgfd,
				 struct mf_err *err)
{
	struct mf_smtp_reply r;
	size_t i;

	if (dr->code != 354) {
		copy_to_all(rc, n, dr, 1);
		return MF_OK;
	}
	if (send_body(s, msgfd, err))
		return err->status;
	if (!s->o.lmtp) {
		if (read_reply(s, s->o.t_eod, 0, &r, err))
			return err->status;
		copy_to_all(rc, n, &r, 1);
		s->need_rset = 0;
		return MF_OK;
	}
	for (i = 0; i < n; i++) {
		if (rc[i].reply.code / 100 != 2)
			continue;
		if (read_reply(s, s->o.t_eod, 0, &r, err))
			return lmtp_cut(s, rc, i, n, err);
		rc[i].reply = r;
	}
	s->need_rset = 0;
	return MF_OK;
}

/* No recipient accepted but the server said 354 anyway: end the empty message. */
static enum mf_status abort_data(struct mf_smtp *s, struct mf_err *err)
{
	struct mf_smtp_reply r;
	int rc;

	s->cmd = "end of data";
	if ((rc = raw_write(s, ".\r\n", 3, s->o.t_block)) < 0)
		return io_fail(s, err, rc);
	return read_reply(s, s->o.t_eod, 0, &r, err);
}

static enum mf_status trans_pipelined(struct mf_smtp *s, struct mf_buf *b,
				      struct mf_smtp_rcpt *rc, size_t n, int msgfd,
				      struct mf_err *err)
{
	struct mf_smtp_reply mr, dr;
	size_t i;

	for (i = 0; i < n; i++)
		if (mf_buf_addf(b, "RCPT TO:<%s>\r\n", rc[i].addr))
			return mf_err_set(err, MF_ENOMEM, "%s: out of memory", s->peer);
	if (mf_buf_adds(b, "DATA\r\n"))
		return mf_err_set(err, MF_ENOMEM, "%s: out of memory", s->peer);
	if (flush_cmds(s, b, "MAIL FROM", s->o.t_mail, err))
		return err->status;
	if (read_reply(s, s->o.t_mail, 0, &mr, err))
		return err->status;
	s->cmd = "RCPT TO";
	for (i = 0; i < n; i++)
		if (read_reply(s, s->o.t_rcpt, 0, &rc[i].reply, err))
			return err->status;
	s->cmd = "DATA";
	if (read_reply(s, s->o.t_data, 0, &dr, err))
		return err->status;
	if (mr.code / 100 != 2) {
		copy_to_all(rc, n, &mr, 0);
		return dr.code == 354 ? abort_data(s, err) : MF_OK;
	}
	if (!count_accepted(rc, n))
		return dr.code == 354 ? abort_data(s, err) : MF_OK;
	return data_phase(s, &dr, rc, n, msgfd, err);
}

static enum mf_status trans_stepwise(struct mf_smtp *s, struct mf_buf *b,
				     struct mf_smtp_rcpt *rc, size_t n, int msgfd,
				     struct mf_err *err)
{
	struct mf_smtp_reply mr, dr;
	size_t i;

	if (flush_cmds(s, b, "MAIL FROM", s->o.t_mail, err) ||
	    read_reply(s, s->o.t_mail, 0, &mr, err))
		return err->status;
	if (mr.code / 100 != 2) {
		copy_to_all(rc, n, &mr, 0);
		return MF_OK;
	}
	for (i = 0; i < n; i++)
		if (command(s, "RCPT TO", s->o.t_rcpt, &rc[i].reply, err,
			    "RCPT TO:<%s>", rc[i].addr))
			return err->status;
	if (!count_accepted(rc, n))
		return MF_OK;
	if (command(s, "DATA", s->o.t_data, &dr, err, "DATA"))
		return err->status;
	return data_phase(s, &dr, rc, n, msgfd, err);
}

static enum mf_status rset(struct mf_smtp *s, struct mf_err *err)
{
	struct mf_smtp_reply r;

	if (!s->need_rset)
		return MF_OK;
	if (command(s, "RSET", s->o.t_other, &r, err, "RSET"))
		return err->status;
	if (r.code / 100 != 2)
		return refused(s, err, &r);
	s->need_rset = 0;
	return MF_OK;
}

/* Refusals decided here, before a command is sent: SMTPUTF8 and SIZE. */
static int precheck(struct mf_smtp *s, const char *sender, struct mf_smtp_rcpt *rc,
		    size_t n, const struct msg_info *mi, int *utf8)
{
	struct mf_smtp_reply r;
	size_t i;

	*utf8 = non_ascii(sender);
	for (i = 0; i < n; i++)
		*utf8 |= non_ascii(rc[i].addr);
	if (*utf8 && !(s->ext & EXT_SMTPUTF8)) {
		reply_set(&r, 553, "5.6.7", "553 5.6.7 SMTPUTF8 required but not offered by %s",
			  s->peer);
		copy_to_all(rc, n, &r, 0);
		return 1;
	}
	if ((s->ext & EXT_SIZE) && s->max_size && mi->wire_size > s->max_size) {
		reply_set(&r, 552, "5.3.4", "552 5.3.4 message size %llu exceeds the limit %llu of %s",
			  (unsigned long long)mi->wire_size,
			  (unsigned long long)s->max_size, s->peer);
		copy_to_all(rc, n, &r, 0);
		return 1;
	}
	return 0;
}

static enum mf_status transaction(struct mf_smtp *s, const char *sender,
				  struct mf_smtp_rcpt *rcpts, size_t n, int msgfd,
				  uint64_t size, struct mf_err *err)
{
	struct mf_buf b = { 0 };
	struct msg_info mi;
	enum mf_status st;
	size_t i;
	int utf8;

	if (s->broken)
		return mf_err_set(err, MF_EINTERNAL, "%s: session is broken", s->peer);
	for (i = 0; i < n; i++)
		memset(&rcpts[i].reply, 0, sizeof rcpts[i].reply);
	if (!n)
		return MF_OK;
	if (msg_scan(s, msgfd, size, &mi, err))
		return err->status;
	if (precheck(s, sender, rcpts, n, &mi, &utf8))
		return MF_OK;
	if (rset(s, err))
		return err->status;
	if (add_mail(s, &b, sender, &mi, utf8, err)) {
		mf_buf_free(&b);
		return err->status;
	}
	s->need_rset = 1;
	st = s->ext & EXT_PIPELINING ? trans_pipelined(s, &b, rcpts, n, msgfd, err)
				     : trans_stepwise(s, &b, rcpts, n, msgfd, err);
	mf_buf_free(&b);
	if (st != MF_OK) {
		s->broken = 1;
		for (i = 0; i < n; i++)
			memset(&rcpts[i].reply, 0, sizeof rcpts[i].reply);
	}
	return st;
}

enum mf_status mf_smtp_send(struct mf_smtp *s, const char *sender,
			    struct mf_smtp_rcpt *rcpts, size_t n, int msgfd,
			    uint64_t size, struct mf_err *err)
{
	struct mf_err local;
	enum mf_status st;
	sigset_t old;

	pipe_block(&old);
	st = transaction(s, sender, rcpts, n, msgfd, size, err ? err : &local);
	pipe_restore(&old);
	return st;
}

void mf_smtp_close(struct mf_smtp *s)
{
	struct mf_smtp_reply r;
	struct mf_err e;
	sigset_t old;

	if (!s)
		return;
	pipe_block(&old);
	if (s->fd >= 0 && !s->broken) {
		s->o.t_other = QUIT_TIMEOUT;
		command(s, "QUIT", QUIT_TIMEOUT, &r, &e, "QUIT");
	}
	if (s->ssl) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	SSL_CTX_free(s->ctx);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	pipe_restore(&old);
}

const char *mf_smtp_peer(const struct mf_smtp *s)
{
	return s->peer;
}

void mf_smtp_set_prefix(struct mf_smtp *s, const char *prefix)
{
	s->prefix = prefix;
}

int mf_smtp_usable(const struct mf_smtp *s)
{
	return !s->broken;
}

int mf_smtp_tls_active(const struct mf_smtp *s)
{
	return s->ssl != NULL;
}
