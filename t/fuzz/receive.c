/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: what an MTA hands mf-receive (sender, recipients, client
 * address and HELO, from arguments or the environment), through
 * mf_receive_envelope and on into the envelope file.  Input: NUL-separated
 * fields: sender, client address, HELO, then up to 8 recipients.
 * Property: whatever mf-receive accepts, the spool stores and reads back
 * unchanged (write, parse, compare) -- an accepted message is never one whose
 * envelope is later found corrupt.
 */
#include "fuzz.h"

#include "mf_buf.h"
#include "mf_envelope.h"
#include "mf_receive.h"

#define FIELDS 11

static void same(const char *a, const char *b)
{
	FUZZ_ASSERT(!a == !b);
	FUZZ_ASSERT(!a || !strcmp(a, b));
}

static void round_trip(const struct mf_envelope *env)
{
	struct mf_envelope back;
	struct mf_buf b = { 0 };
	struct mf_err err;
	size_t i;

	FUZZ_ASSERT(mf_envelope_format(env, &b, &err) == MF_OK);
	mf_envelope_init(&back);
	FUZZ_ASSERT(mf_envelope_parse(b.data, b.len, &back, &err) == MF_OK);
	same(back.sender, env->sender);
	same(back.client_addr, env->client_addr);
	same(back.client_helo, env->client_helo);
	FUZZ_ASSERT(back.nrcpts == env->nrcpts);
	for (i = 0; i < env->nrcpts; i++)
		same(back.rcpts[i].addr, env->rcpts[i].addr);
	mf_envelope_free(&back);
	mf_buf_free(&b);
}

FUZZ_INIT_QUIET

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size);
	const char *f[FIELDS + 1] = { 0 };
	struct mf_receive_args a = { 0 };
	struct mf_envelope env;
	struct mf_err err;
	size_t off = 0, n = 0;

	while (n < FIELDS && off <= size) {
		f[n++] = in + off;
		off += strlen(in + off) + 1;
	}
	a.sender = f[0];
	a.client_addr = f[1];
	a.client_helo = f[2];
	a.rcpts = &f[3];
	a.receiver_id = "relay2";
	mf_envelope_init(&env);
	if (mf_receive_envelope(&a, &env, &err) != MF_OK) {
		fuzz_check_err(&err);
	} else {
		FUZZ_ASSERT(mf_envelope_set(&env.id, "1764000000.M000001P1Q1.fuzz.example") == 0);
		env.arrival = 1764000000;
		env.size = 42;
		round_trip(&env);
	}
	mf_envelope_free(&env);
	free(in);
	return 0;
}
