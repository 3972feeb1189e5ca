/* SPDX-License-Identifier: MIT */
/*
 * chain: run a two-process pipeline once per message, for bench/send.sh.
 *
 *   chain N INPUT A1 [ARG...] '|' A2 [ARG...] [::: B1 [ARG...] '|' B2 [ARG...]]
 *
 * For each message posix_spawns A1 with stdin on INPUT and stdout on a new
 * pipe, and A2 with stdin on that pipe and stdout on /dev/null -- what
 * `A1 < INPUT | A2 > /dev/null` does, without a shell -- and waits for both.
 * chain keeps the read end open until both are reaped, so that A1's last
 * line to an A2 that does not read it (smtp-source) is not a SIGPIPE.
 * Given a second pipeline after ":::", it alternates the two message by
 * message (A B, then B A, ...), N of each.  Prints per pipeline
 *
 *   A n=N secs=S rate=R cpu_ms=C
 *
 * secs: wall time from the first spawn to the last reap, summed over
 * messages; cpu_ms: user+sys of both processes per message.  A process
 * that does not exit 0 stops the run (exit 1).  Built static, like drive.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct pipeline {
	char **argv1, **argv2;
	double secs, cpu_ms;
};

static const char *input;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int reap(pid_t pid, const char *name, long i, double *cpu)
{
	struct rusage ru;
	int status;

	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("chain: wait4");
		return -1;
	}
	*cpu += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "chain: %s: run %ld: %s %d\n", name, i + 1,
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 0;
}

static int run_one(struct pipeline *p, long i)
{
	posix_spawn_file_actions_t f1, f2;
	double t0 = now();
	pid_t p1, p2;
	int fd[2], rc, bad = 0;

	if (pipe2(fd, O_CLOEXEC) < 0) {
		perror("chain: pipe");
		return -1;
	}
	posix_spawn_file_actions_init(&f1);
	posix_spawn_file_actions_addopen(&f1, 0, input, O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&f1, fd[1], 1);
	posix_spawn_file_actions_init(&f2);
	posix_spawn_file_actions_adddup2(&f2, fd[0], 0);
	posix_spawn_file_actions_addopen(&f2, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&p1, p->argv1[0], &f1, NULL, p->argv1, environ);
	if (rc) {
		fprintf(stderr, "chain: spawn %s: %s\n", p->argv1[0], strerror(rc));
		return -1;
	}
	rc = posix_spawn(&p2, p->argv2[0], &f2, NULL, p->argv2, environ);
	close(fd[1]);
	posix_spawn_file_actions_destroy(&f1);
	posix_spawn_file_actions_destroy(&f2);
	if (rc) {
		fprintf(stderr, "chain: spawn %s: %s\n", p->argv2[0], strerror(rc));
		return -1;
	}
	bad |= reap(p1, p->argv1[0], i, &p->cpu_ms);
	bad |= reap(p2, p->argv2[0], i, &p->cpu_ms);
	p->secs += now() - t0;
	close(fd[0]);
	return bad;
}

/* split argv at the first "|" */
static int split(char **argv, struct pipeline *p)
{
	int j;

	p->argv1 = argv;
	for (j = 0; argv[j]; j++)
		if (!strcmp(argv[j], "|")) {
			argv[j] = NULL;
			p->argv2 = argv + j + 1;
			return j > 0 && argv[j + 1] ? 0 : -1;
		}
	return -1;
}

int main(int argc, char **argv)
{
	struct pipeline pl[2];
	int np = 1, j, k;
	long i, n;

	memset(pl, 0, sizeof pl);
	if (argc < 6 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: chain N INPUT A1 [ARG...] '|' A2 [ARG...] [::: B1 ... '|' B2 ...]\n");
		return 64;
	}
	input = argv[2];
	for (j = 3; j < argc; j++)
		if (!strcmp(argv[j], ":::")) {
			argv[j] = NULL;
			if (split(argv + j + 1, &pl[1]) < 0)
				goto usage;
			np = 2;
			break;
		}
	if (split(argv + 3, &pl[0]) < 0)
		goto usage;
	for (i = 0; i < n; i++)
		for (k = 0; k < np; k++)
			if (run_one(&pl[np == 2 ? (int)((i + k) & 1) : 0], i) < 0)
				return 1;
	for (k = 0; k < np; k++)
		printf("%c n=%ld secs=%.3f rate=%.1f cpu_ms=%.3f\n", 'A' + k, n,
		       pl[k].secs, (double)n / pl[k].secs, pl[k].cpu_ms / (double)n);
	return 0;
usage:
	fprintf(stderr, "chain: each pipeline is CMD [ARG...] '|' CMD [ARG...]\n");
	return 64;
}
