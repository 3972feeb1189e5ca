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

#define EXT_PIPELINING MF_SMTP_EXT_PIPELINING
#define EXT_SIZE       MF_SMTP_EXT_SIZE
#define EXT_8BITMIME   MF_SMTP_EXT_8BITMIME
#define EXT_SMTPUTF8   MF_SMTP_EXT_SMTPUTF8
#define EXT_STARTTLS   MF_SMTP_EXT_STARTTLS
#define EXT_AUTH_PLAIN MF_SMTP_EXT_AUTH_PLAIN
#define EXT_AUTH_LOGIN MF_SMTP_EXT_AUTH_LOGIN
#define EXT_AUTH       MF_SMTP_EXT_AUTH

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
	unsigned char *again;        /* per recipient: refused as too many (batch) */
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

/* One reply line without its CR/LF into line (MF_SMTP_LINE_MAX + 2 bytes):
 * its length, or -5 when it is longer (the rest is not read). */
static int read_line(struct mf_smtp *s, char *line, long long deadline)
{
	size_t n = 0, k;
	const char *nl;
	int rc;

	for (;;) {
		if (s->rpos == s->rlen && (rc = raw_fill(s, deadline)) < 0)
			return rc;
		k = s->rlen - s->rpos;
		nl = memchr(s->rbuf + s->rpos, '\n', k);
		if (nl)
			k = (size_t)(nl - (s->rbuf + s->rpos));
		if (n + k > MF_SMTP_LINE_MAX + 1)
			return -5;
		memcpy(line + n, s->rbuf + s->rpos, k);
		n += k;
		s->rpos += k + (nl != NULL);
		if (nl)
			break;
	}
	if (n && line[n - 1] == '\r')
		n--;
	if (n > MF_SMTP_LINE_MAX)
		return -5;
	line[n] = '\0';
	return (int)n;
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

static void ext_parse(struct mf_smtp_parser *ps, const char *p)
{
	const char *arg = p + strcspn(p, " ");

	if (!strncasecmp(p, "PIPELINING", 10) && (!p[10] || p[10] == ' '))
		ps->ext |= EXT_PIPELINING;
	else if (!strncasecmp(p, "SIZE", 4) && (!p[4] || p[4] == ' ')) {
		ps->ext |= EXT_SIZE;
		ps->max_size = strtoull(arg, NULL, 10);
	} else if (!strcasecmp(p, "8BITMIME"))
		ps->ext |= EXT_8BITMIME;
	else if (!strcasecmp(p, "SMTPUTF8"))
		ps->ext |= EXT_SMTPUTF8;
	else if (!strcasecmp(p, "STARTTLS"))
		ps->ext |= EXT_STARTTLS;
	else if (!strncasecmp(p, "AUTH ", 5)) {
		ps->ext |= EXT_AUTH;
		for (p = arg; *p; p += strcspn(p, " ")) {
			p += strspn(p, " ");
			if (!strncasecmp(p, "PLAIN", 5) && (!p[5] || p[5] == ' '))
				ps->ext |= EXT_AUTH_PLAIN;
			if (!strncasecmp(p, "LOGIN", 5) && (!p[5] || p[5] == ' '))
				ps->ext |= EXT_AUTH_LOGIN;
		}
	}
}

/* "xyz" then end, ' ' or '-' (RFC 5321 4.2: x 2-5, y 0-5, z 0-9); 0 if not. */
static int line_code(const char *l, size_t len)
{
	if (len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' ||
	    l[2] < '0' || l[2] > '9' || (len > 3 && l[3] != ' ' && l[3] != '-'))
		return 0;
	return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

void mf_smtp_parser_init(struct mf_smtp_parser *p, int ehlo)
{
	memset(p, 0, sizeof *p);
	p->ehlo = ehlo;
}

int mf_smtp_parser_line(struct mf_smtp_parser *p, const char *line, size_t len,
			const char **why)
{
	int code = line_code(line, len);
	const char *rest = len > 3 ? line + 4 : "";

	if (len > MF_SMTP_LINE_MAX)
		return *why = "reply line too long", -1;
	if (strlen(line) != len)
		return *why = "NUL in reply", -1;
	if (!code)
		return *why = "bad reply", -1;
	if (p->lines && code != p->r.code)
		return *why = "reply code changed inside a reply", -1;
	if (++p->lines > MF_SMTP_REPLY_LINES)
		return *why = "reply with too many lines", -1;
	if (p->lines == 1) {
		p->r.code = code;
		snprintf(p->r.text, sizeof p->r.text, "%d", code);
		dsn_parse(&p->r, rest);
	} else if (p->ehlo) {
		ext_parse(p, rest);
	}
	if (*rest)
		text_add(&p->r, rest);
	return len > 3 && line[3] == '-' ? 0 : 1;
}

long mf_smtp_parse_reply(struct mf_smtp_parser *p, const char *buf, size_t len,
			 const char **why)
{
	char line[MF_SMTP_LINE_MAX + 2];
	const char *nl;
	size_t off = 0, n;
	int rc;

	do {
		nl = memchr(buf + off, '\n', len - off);
		n = nl ? (size_t)(nl - (buf + off)) : len - off;
		if (n > MF_SMTP_LINE_MAX + 1 || (n == MF_SMTP_LINE_MAX + 1 && buf[off + n - 1] != '\r'))
			return *why = "reply line too long", -1;
		if (!nl)
			return 0;
		memcpy(line, buf + off, n);
		n -= n && line[n - 1] == '\r';
		line[n] = '\0';
		off = (size_t)(nl - buf) + 1;
	} while ((rc = mf_smtp_parser_line(p, line, n, why)) == 0);
	return rc < 0 ? -1 : (long)off;
}

/* Read one (multi-line) reply; ehlo: parse each line after the first as an extension. */
static enum mf_status read_reply(struct mf_smtp *s, int timeout, int ehlo,
				 struct mf_smtp_reply *r, struct mf_err *err)
{
	long long deadline = now_ms() + (long long)timeout * 1000;
	char line[MF_SMTP_LINE_MAX + 2];
	struct mf_smtp_parser p;
	const char *why = "bad reply";
	int rc;

	mf_smtp_parser_init(&p, ehlo);
	do {
		if ((rc = read_line(s, line, deadline)) == -5)
			return sess_fail(s, err, "4.5.0", "reply line longer than %d bytes after %s",
					 MF_SMTP_LINE_MAX, s->cmd);
		if (rc < 0)
			return io_fail(s, err, rc);
		mf_log(LOG_DEBUG, "%s < %.*s", s->peer, rc, line);
	} while ((rc = mf_smtp_parser_line(&p, line, (size_t)rc, &why)) == 0);
	if (rc < 0) {
		memset(&p.r, 0, sizeof p.r);
		text_add(&p.r, line);   /* the offending line, made printable */
		return sess_fail(s, err, "4.5.0", "%s after %s: %.100s", why, s->cmd,
				 p.r.text);
	}
	*r = p.r;
	if (ehlo && r->code / 100 == 2) {
		s->ext = p.ext;
		s->max_size = p.max_size;
	}
	return MF_OK;
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

/* --- the DATA encoder (see mf_smtp.h) --- */

/*
 * Rationale: the message is scanned for the next LF, CR and NUL with memchr,
 * each found once per occurrence (the three positions are kept), and the
 * text between them is copied whole: no byte loop.  The same code counts
 * (out == NULL, the SIZE= pass mf-send already made) and writes, so the SIZE
 * parameter is exact whatever had to be repaired.
 */

void mf_smtp_enc_init(struct mf_smtp_enc *e)
{
	memset(e, 0, sizeof *e);
	e->bol = 1;
	e->in_header = 1;
}

static size_t put(char *out, size_t o, const char *p, size_t n)
{
	if (out)
		memcpy(out + o, p, n);
	return o + n;
}

/* Text without line ends or NUL: dot-stuffed, folded past the line limit. */
static size_t enc_text(struct mf_smtp_enc *e, const char *p, size_t n, char *out,
		       size_t o)
{
	size_t room;

	while (n) {
		if (e->bol && *p == '.') {
			o = put(out, o, ".", 1);   /* on the wire, not in SIZE */
			e->linelen++;
		}
		e->bol = 0;
		room = MF_SMTP_WIRE_LINE - e->linelen;
		if (n <= room) {
			e->linelen += n;
			e->size += n;
			return put(out, o, p, n);
		}
		o = put(out, o, p, room);
		p += room;
		n -= room;
		e->folds++;
		/* a header continues on a folded line; the body just breaks */
		o = put(out, o, "\r\n ", e->in_header ? 3 : 2);
		e->size += (uint64_t)room + (e->in_header ? 3 : 2);
		e->linelen = e->in_header ? 1 : 0;
		e->bol = !e->in_header;
	}
	return o;
}

static size_t enc_eol(struct mf_smtp_enc *e, char *out, size_t o)
{
	if (e->bol && e->in_header)
		e->in_header = 0;   /* the empty line after the header */
	e->bol = 1;
	e->linelen = 0;
	e->size += 2;
	return put(out, o, "\r\n", 2);
}

static const char *next_of(const char *cur, const char *p, const char *end, int c)
{
	const char *f;

	if (cur && cur >= p)
		return cur;
	f = memchr(p, c, (size_t)(end - p));
	return f ? f : end;
}

static int has_8bit(const char *p, size_t n)
{
	uint64_t acc = 0, w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= (unsigned char)p[i];
	return (acc & 0x8080808080808080ULL) != 0;
}

size_t mf_smtp_enc_block(struct mf_smtp_enc *e, const char *in, size_t n, char *out)
{
	const char *p = in, *end = in + n, *lf = NULL, *cr = NULL, *nul = NULL, *q;
	size_t o = 0;

	if (!e->eight_bit)
		e->eight_bit = has_8bit(in, n);
	while (p < end) {
		if (e->after_cr) {
			e->after_cr = 0;
			if (*p == '\n') {
				p++;        /* CRLF: one line end, already written */
				continue;
			}
			e->bare_crs++;
		}
		lf = next_of(lf, p, end, '\n');
		cr = next_of(cr, p, end, '\r');
		nul = next_of(nul, p, end, '\0');
		q = lf < cr ? lf : cr;
		q = nul < q ? nul : q;
		o = enc_text(e, p, (size_t)(q - p), out, o);
		if (q == end)
			break;
		p = q + 1;
		if (*q == '\0') {
			e->nuls++;
			continue;
		}
		e->after_cr = *q == '\r';
		o = enc_eol(e, out, o);
	}
	return o;
}

size_t mf_smtp_enc_end(struct mf_smtp_enc *e, char *out)
{
	size_t o = 0;

	if (e->after_cr) {
		e->after_cr = 0;
		e->bare_crs++;
	}
	if (!e->bol)
		o = enc_eol(e, out, o);
	return put(out, o, ".\r\n", 3);
}

/* --- one transaction --- */

struct msg_info {
	uint64_t wire_size;
	int eight_bit;
};

/* The prefix then the message through the encoder, writing (out) or counting. */
static enum mf_status encode_all(struct mf_smtp *s, int fd, struct mf_smtp_enc *e,
				 char *out, struct mf_err *err)
{
	static char in[BLOCK_SIZE];
	size_t plen = s->prefix ? strlen(s->prefix) : 0, k, o;
	uint64_t off = 0;
	ssize_t r;
	int rc;

	mf_smtp_enc_init(e);
	for (; off < plen; off += k) {
		k = plen - off > BLOCK_SIZE ? BLOCK_SIZE : plen - off;
		o = mf_smtp_enc_block(e, s->prefix + off, k, out);
		if (out && (rc = raw_write(s, out, o, s->o.t_block)) < 0)
			return io_fail(s, err, rc);
	}
	for (off = 0; (r = pread(fd, in, sizeof in, (off_t)off)) != 0; off += (uint64_t)r) {
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r < 0) {
			if (out)
				s->broken = 1;
			return mf_err_errno(err, errno, "%s: read message", s->peer);
		}
		o = mf_smtp_enc_block(e, in, (size_t)r, out);
		if (out && (rc = raw_write(s, out, o, s->o.t_block)) < 0)
			return io_fail(s, err, rc);
	}
	o = mf_smtp_enc_end(e, out);
	return out && (rc = raw_write(s, out, o, s->o.t_block)) < 0 ? io_fail(s, err, rc)
								    : MF_OK;
}

static enum mf_status msg_scan(struct mf_smtp *s, int fd, struct msg_info *mi,
			       struct mf_err *err)
{
	struct mf_smtp_enc e;

	if (encode_all(s, fd, &e, NULL, err))
		return err->status;
	mi->wire_size = e.size;
	mi->eight_bit = e.eight_bit;
	if (e.bare_crs || e.nuls || e.folds)
		mf_log(LOG_NOTICE, "%s: made fit for SMTP: %llu bare CR sent as line ends, "
		       "%llu NUL removed, %llu lines over %d bytes folded", s->peer,
		       (unsigned long long)e.bare_crs, (unsigned long long)e.nuls,
		       (unsigned long long)e.folds, MF_SMTP_WIRE_LINE);
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

/*
 * A reply that cannot answer the command it came for (RFC 5321 4.3.2) means
 * the server is out of step -- with PIPELINING, replies out of order -- or
 * says 250 to DATA without taking the data: nothing it says is believed, the
 * transaction fails (temporarily) and the session ends.
 */
static enum mf_status in_step(struct mf_smtp *s, const struct mf_smtp_reply *r, int data,
			      struct mf_err *err)
{
	if (data ? r->code == 354 || r->code >= 400 : r->code / 100 != 3)
		return MF_OK;
	return sess_fail(s, err, "4.5.0", "protocol error: reply to %s out of step: %.100s",
			 s->cmd, r->text);
}

static enum mf_status read_step(struct mf_smtp *s, int timeout, int data,
				struct mf_smtp_reply *r, struct mf_err *err)
{
	if (read_reply(s, timeout, 0, r, err))
		return err->status;
	return in_step(s, r, data, err);
}

static enum mf_status send_body(struct mf_smtp *s, int fd, struct mf_err *err)
{
	static char out[MF_SMTP_ENC_OUT(BLOCK_SIZE)];
	struct mf_smtp_enc e;

	/* after 354 the server must wait for the data: anything already here
	 * was sent ahead of its turn */
	if (s->rpos != s->rlen)
		return sess_fail(s, err, "4.5.0", "protocol error: data after the 354 reply");
	s->cmd = "DATA";
	if (encode_all(s, fd, &e, out, err))
		return err->status;
	mf_log(LOG_DEBUG, "%s > (%llu bytes) .", s->peer, (unsigned long long)e.size);
	s->cmd = "end of data";
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
		if (read_step(s, s->o.t_eod, 0, &r, err))
			return err->status;
		copy_to_all(rc, n, &r, 1);
		s->need_rset = 0;
		return MF_OK;
	}
	for (i = 0; i < n; i++) {
		if (rc[i].reply.code / 100 != 2)
			continue;
		if (read_step(s, s->o.t_eod, 0, &r, err))
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

/* RFC 5321 4.5.3.1.10: 452 (or 4.5.3) to RCPT -- this transaction is full,
 * another may take the recipient now.  (452 4.2.x is a full mailbox.) */
static int too_many(const struct mf_smtp_reply *r)
{
	return !strcmp(r->dsn, "4.5.3") || (r->code == 452 && strncmp(r->dsn, "4.2.", 4));
}

/* After the RCPT replies of a transaction whose MAIL was accepted: the
 * recipients refused as too many while the server took at least one. */
static void mark_again(struct mf_smtp *s, const struct mf_smtp_rcpt *rc, size_t n)
{
	size_t i;

	if (!s->again || !count_accepted(rc, n))
		return;
	for (i = 0; i < n; i++)
		s->again[i] = too_many(&rc[i].reply) != 0;
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
	if (read_step(s, s->o.t_mail, 0, &mr, err))
		return err->status;
	s->cmd = "RCPT TO";
	for (i = 0; i < n; i++)
		if (read_step(s, s->o.t_rcpt, 0, &rc[i].reply, err))
			return err->status;
	s->cmd = "DATA";
	if (read_step(s, s->o.t_data, 1, &dr, err))
		return err->status;
	if (mr.code / 100 != 2) {
		copy_to_all(rc, n, &mr, 0);
		return dr.code == 354 ? abort_data(s, err) : MF_OK;
	}
	mark_again(s, rc, n);
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
	    read_step(s, s->o.t_mail, 0, &mr, err))
		return err->status;
	if (mr.code / 100 != 2) {
		copy_to_all(rc, n, &mr, 0);
		return MF_OK;
	}
	for (i = 0; i < n; i++)
		if (command(s, "RCPT TO", s->o.t_rcpt, &rc[i].reply, err,
			    "RCPT TO:<%s>", rc[i].addr) ||
		    in_step(s, &rc[i].reply, 0, err))
			return err->status;
	mark_again(s, rc, n);
	if (!count_accepted(rc, n))
		return MF_OK;
	if (command(s, "DATA", s->o.t_data, &dr, err, "DATA") || in_step(s, &dr, 1, err))
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

/* One transaction for rcpts[0..n): every reply set, or an error (none set). */
static enum mf_status transaction(struct mf_smtp *s, const char *sender,
				  struct mf_smtp_rcpt *rcpts, size_t n, int msgfd,
				  const struct msg_info *mi, struct mf_err *err)
{
	struct mf_buf b = { 0 };
	enum mf_status st;
	size_t i;
	int utf8;

	for (i = 0; i < n; i++)
		memset(&rcpts[i].reply, 0, sizeof rcpts[i].reply);
	if (precheck(s, sender, rcpts, n, mi, &utf8))
		return MF_OK;
	if (rset(s, err))
		return err->status;
	if (add_mail(s, &b, sender, mi, utf8, err)) {
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

/* Recipients of a transaction that broke: 451 for those it offered, "not
 * tried" (no attempt charged) for those after. */
static void batch_cut(struct mf_smtp_rcpt *rcpts, const size_t *todo, size_t tried,
		      size_t ntodo, const struct mf_err *err)
{
	size_t j;

	for (j = 0; j < ntodo; j++) {
		if (j < tried)
			reply_set(&rcpts[todo[j]].reply, 451, "4.4.2", "451 4.4.2 %.490s", err->msg);
		else
			reply_set(&rcpts[todo[j]].reply, MF_SMTP_NOT_TRIED, "",
				  "not tried: the session ended before");
	}
}

/* One batch: transaction for todo[0..k), then the replies moved to rcpts,
 * except the recipients refused as too many, kept at the front of todo
 * (again: k flags, scratch). */
static enum mf_status batch(struct mf_smtp *s, const char *sender, struct mf_smtp_rcpt *rcpts,
			    size_t *todo, size_t *ntodo, struct mf_smtp_rcpt *b, size_t k,
			    unsigned char *again, int msgfd, const struct msg_info *mi,
			    struct mf_err *err)
{
	size_t j, left = 0;
	enum mf_status st;

	for (j = 0; j < k; j++)
		b[j].addr = rcpts[todo[j]].addr;
	memset(again, 0, k);
	s->again = again;
	st = transaction(s, sender, b, k, msgfd, mi, err);
	s->again = NULL;
	if (st)
		return st;
	for (j = 0; j < k; j++) {
		if (again[j])
			todo[left++] = todo[j];
		else
			rcpts[todo[j]].reply = b[j].reply;
	}
	memmove(todo + left, todo + k, (*ntodo - k) * sizeof *todo);
	*ntodo = left + *ntodo - k;
	return MF_OK;
}

/*
 * At most rcpt_limit recipients per transaction; recipients refused as too
 * many go into the next transaction at once.  A recipient is only marked so
 * when another of its transaction was accepted: each round takes at least
 * one recipient off the list, so there are at most n rounds.
 */
static enum mf_status batches(struct mf_smtp *s, const char *sender,
			      struct mf_smtp_rcpt *rcpts, size_t n, int msgfd,
			      struct mf_err *err)
{
	size_t limit = s->o.rcpt_limit ? s->o.rcpt_limit : 100, ntodo = n, j, k;
	size_t *todo = NULL;
	unsigned char *again = NULL;
	struct mf_smtp_rcpt *b = NULL;
	struct msg_info mi = { 0, 0 };
	enum mf_status st = MF_OK;
	int first = 1;

	for (j = 0; j < n; j++)
		memset(&rcpts[j].reply, 0, sizeof rcpts[j].reply);
	if (s->broken)
		return mf_err_set(err, MF_EINTERNAL, "%s: session is broken", s->peer);
	if (n && s->rpos != s->rlen)   /* a kept session the server wrote to unasked */
		return sess_fail(s, err, "4.5.0", "protocol error: unexpected data before MAIL");
	if (!n || msg_scan(s, msgfd, &mi, err))
		return n ? err->status : MF_OK;
	todo = malloc(n * sizeof *todo);
	b = calloc(n < limit ? n : limit, sizeof *b);
	again = malloc(n < limit ? n : limit);
	if (!todo || !b || !again) {
		st = mf_err_set(err, MF_ENOMEM, "%s: out of memory", s->peer);
		goto out;
	}
	for (j = 0; j < n; j++)
		todo[j] = j;
	while (ntodo && !s->broken) {
		k = ntodo < limit ? ntodo : limit;
		if ((st = batch(s, sender, rcpts, todo, &ntodo, b, k, again, msgfd, &mi, err))) {
			if (first)
				goto out;
			batch_cut(rcpts, todo, k, ntodo, err);
			ntodo = 0;
			st = MF_OK;
		}
		first = 0;
	}
	batch_cut(rcpts, todo, 0, ntodo, err);
out:
	free(todo);
	free(again);
	free(b);
	return st;
}

enum mf_status mf_smtp_send(struct mf_smtp *s, const char *sender,
			    struct mf_smtp_rcpt *rcpts, size_t n, int msgfd,
			    uint64_t size, struct mf_err *err)
{
	struct mf_err local;
	enum mf_status st;
	sigset_t old;

	(void)size;   /* SIZE= is counted from the file itself */
	pipe_block(&old);
	st = batches(s, sender, rcpts, n, msgfd, err ? err : &local);
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
