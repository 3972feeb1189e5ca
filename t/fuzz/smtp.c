/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the SMTP/LMTP client's reply reader and the dialogue around it
 * (mf_smtp_open, two mf_smtp_send, mf_smtp_close), against a "server" that
 * sends the input, closes its side and swallows what the client says.
 * Input: one byte of options (bit 0 LMTP, 1 TLS may, 2 AUTH, 3 a prefix
 * header, 4 an 8-bit body), then the server's bytes.  Properties: after
 * MF_OK every recipient has a final reply (200-599) whose text is one line;
 * a failure is one line; nothing hangs (short timeouts).
 */
#include "fuzz.h"

#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mf_smtp.h"

struct server {
	int lfd;
	const uint8_t *data;
	size_t len;
};

static struct sockaddr_un sun;
static socklen_t sunlen;
static int listen_fd = -1;

static void *serve(void *arg)
{
	struct server *sv = arg;
	struct pollfd p = { sv->lfd, POLLIN, 0 };
	char sink[4096];
	size_t off = 0;
	ssize_t n;
	int fd;

	if (poll(&p, 1, 5000) != 1 || (fd = accept(sv->lfd, NULL, NULL)) < 0)
		return NULL;
	while (off < sv->len && (n = send(fd, sv->data + off, sv->len - off, MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
	shutdown(fd, SHUT_WR);
	while (read(fd, sink, sizeof sink) > 0)
		;
	close(fd);
	return NULL;
}

static void check_reply(const struct mf_smtp_reply *r)
{
	const char *end = memchr(r->text, '\0', sizeof r->text);

	FUZZ_ASSERT(r->code >= 200 && r->code <= 599);
	FUZZ_ASSERT(end && !memchr(r->text, '\n', (size_t)(end - r->text)) &&
		    !memchr(r->text, '\r', (size_t)(end - r->text)));
	FUZZ_ASSERT(memchr(r->dsn, '\0', sizeof r->dsn));
}

static int message(int eight_bit)
{
	static const char ascii[] = "Subject: fuzz\n\nline\n.\n..dot\n";
	static const char eight[] = "Subject: fuzz\n\nl\xc3\xa4ngs\n.\n";
	const char *m = eight_bit ? eight : ascii;
	size_t n = eight_bit ? sizeof eight - 1 : sizeof ascii - 1;
	int fd = memfd_create("message", MFD_CLOEXEC);

	FUZZ_ASSERT(fd >= 0 && write(fd, m, n) == (ssize_t)n);
	return fd;
}

static void transactions(struct mf_smtp *s, unsigned flags)
{
	struct mf_smtp_rcpt rc[3] = {
		{ "a@example.org", { 0 } }, { "b@example.org", { 0 } }, { "c@example.net", { 0 } },
	};
	struct mf_err err;
	int round, fd = message(flags & 16);
	size_t i;
	off_t size = lseek(fd, 0, SEEK_END);

	if (flags & 8)
		mf_smtp_set_prefix(s, "X-Fuzz: yes\n");
	for (round = 0; round < 2 && mf_smtp_usable(s); round++) {
		for (i = 0; i < 3; i++)
			memset(&rc[i].reply, 0, sizeof rc[i].reply);
		if (mf_smtp_send(s, round ? "" : "s@example.org", rc, 3, fd,
				 (uint64_t)size, &err) != MF_OK) {
			fuzz_check_err(&err);
			break;
		}
		for (i = 0; i < 3; i++)
			check_reply(&rc[i].reply);
	}
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	/* an abstract socket: nothing to clean up */
	snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1, "mf-fuzz-smtp-%ld", (long)getpid());
	sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sun.sun_path + 1));
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_ASSERT(listen_fd >= 0);
	FUZZ_ASSERT(bind(listen_fd, (struct sockaddr *)&sun, sunlen) == 0);
	FUZZ_ASSERT(listen(listen_fd, 4) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mf_smtp_opts o;
	struct server sv;
	struct mf_smtp *s;
	struct mf_err err;
	pthread_t th;
	unsigned flags;

	if (size < 1)
		return 0;
	flags = data[0];
	sv.lfd = listen_fd;
	sv.data = data + 1;
	sv.len = size - 1;
	memset(&o, 0, sizeof o);
	o.helo_name = "client.example";
	o.lmtp = flags & 1;
	o.tls = flags & 2 ? MF_TLS_MAY : MF_TLS_NONE;
	o.auth_user = flags & 4 ? "user" : NULL;
	o.auth_pass = "secret";
	o.t_connect = o.t_helo = o.t_mail = o.t_rcpt = o.t_data = 1;
	o.t_block = o.t_eod = o.t_other = 1;
	FUZZ_ASSERT(pthread_create(&th, NULL, serve, &sv) == 0);
	if (mf_smtp_open(&s, (struct sockaddr *)&sun, sunlen, "mx.example", &o, &err) == MF_OK) {
		transactions(s, flags);
		mf_smtp_close(s);
	} else {
		fuzz_check_err(&err);
	}
	pthread_join(th, NULL);
	return 0;
}
