/* SPDX-License-Identifier: MIT */
/* Build the envelope of a message handed over by an MTA, and spool it. */
#include "mf_receive.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mf_addr.h"
#include "mf_log.h"

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void mf_receive_from_env(struct mf_receive_args *a, const char *env_rcpt[2])
{
	if (!a->sender)
		a->sender = getenv("SENDER"); /* may be "" for the null sender */
	if ((!a->rcpts || !a->rcpts[0]) && env_nonempty("RECIPIENT")) {
		env_rcpt[0] = getenv("RECIPIENT");
		env_rcpt[1] = NULL;
		a->rcpts = env_rcpt;
	}
	if (!a->client_addr)
		a->client_addr = env_nonempty("TCPREMOTEIP");
	if (!a->client_addr)
		a->client_addr = env_nonempty("REMOTE_ADDR");
}

/* A client address is kept only when it is an IP address: it is information,
 * and a bad one must not cost the message. */
static const char *clean_client(const char *addr)
{
	unsigned char bin[16];
	const char *a = addr;

	if (!a || !*a || !strcasecmp(a, "unknown"))
		return NULL;
	if (!strncasecmp(a, "IPv6:", 5))
		a += 5;
	if (inet_pton(AF_INET, a, bin) == 1 || inet_pton(AF_INET6, a, bin) == 1)
		return a;
	mf_log(LOG_WARNING, "ignoring client address that is not an IP address");
	return NULL;
}

static const char *clean_helo(const char *helo)
{
	const unsigned char *p;

	if (!helo || !*helo || strlen(helo) > 255)
		return NULL;
	for (p = (const unsigned char *)helo; *p; p++)
		if (*p <= 32 || *p == 127)
			return NULL;
	return helo;
}

enum mf_status mf_receive_envelope(const struct mf_receive_args *a,
				   struct mf_envelope *env, struct mf_err *err)
{
	char addr[MF_ADDR_MAX + 1];
	size_t i;

	if (!a->sender)
		return mf_err_set(err, MF_EUSAGE,
				  "no sender: give -f SENDER (-f '' for the null sender)");
	if (!a->rcpts || !a->rcpts[0])
		return mf_err_set(err, MF_EUSAGE, "no recipients: give them after --");
	if (mf_addr_check(a->sender, strlen(a->sender), MF_ADDR_ALLOW_NULL, addr, err)) {
		mf_err_prefix(err, "sender");
		mf_err_dsn(err, "5.1.7");
		return MF_EADDR;
	}
	if (mf_envelope_set(&env->sender, addr) < 0)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	for (i = 0; a->rcpts[i]; i++) {
		if (mf_addr_check(a->rcpts[i], strlen(a->rcpts[i]), 0, addr, err)) {
			mf_err_prefix(err, "recipient");
			mf_err_dsn(err, "5.1.3");
			return MF_EADDR;
		}
		if (mf_envelope_add_rcpt(env, addr) < 0)
			return mf_err_set(err, MF_ENOMEM, "out of memory");
	}
	if (mf_envelope_set(&env->client_addr, clean_client(a->client_addr)) < 0 ||
	    mf_envelope_set(&env->client_helo, clean_helo(a->client_helo)) < 0 ||
	    mf_envelope_set(&env->receiver_id, a->receiver_id) < 0)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	return MF_OK;
}

void mf_receive_opts(const struct mf_conf *c, const char *id,
		     struct mf_intake_opts *o)
{
	memset(o, 0, sizeof *o);
	o->max_size = mf_conf_size(c, "Receiver", id, "MaxSize");
	o->min_free = mf_conf_size(c, "General", NULL, "MinFreeSpace");
	o->max_received = MF_MAX_HOPS;
}
