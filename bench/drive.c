/* SPDX-License-Identifier: MIT */
/*
 * drive: run commands once per message, one process per message, for
 * bench/receive.sh.
 *
 *   drive N INPUT CMD [ARG...] [::: CMD2 [ARG...]]
 *
 * posix_spawns CMD N times one after the other, each with stdin opened on
 * INPUT and stdout on /dev/null, and waits for each.  Given a second
 * command after ":::", it alternates the two message by message (A B A B
 * ..., N of each), so drift in the machine's speed hits both alike.  It
 * prints one line per command:
 *
 *   A n=N secs=S rate=R cpu_ms=C maxrss_kib=K
 *
 * secs is the wall time spent on that command's processes (spawn to
 * reaped), rate messages per second of it, cpu_ms the processes' user+sys
 * CPU per message and maxrss_kib the largest peak RSS of any of them
 * (wait4's rusage).  drive is built static so its own RSS, which a
 * vfork-style spawn can lend the child's maxrss, stays negligible.
 * A child that does not exit 0 stops the run (exit 1).
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

struct cmd {
	char **argv;
	double secs, cpu_ms;
	long maxrss;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int run_one(struct cmd *c, const posix_spawn_file_actions_t *fa, long i)
{
	struct rusage ru;
	double t0 = now();
	pid_t pid;
	int rc, status;

	rc = posix_spawn(&pid, c->argv[0], fa, NULL, c->argv, environ);
	if (rc) {
		fprintf(stderr, "drive: spawn %s: %s\n", c->argv[0], strerror(rc));
		return -1;
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("drive: wait4");
		return -1;
	}
	c->secs += now() - t0;
	c->cpu_ms += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	if (ru.ru_maxrss > c->maxrss)
		c->maxrss = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "drive: %s: run %ld: %s %d\n", c->argv[0], i + 1,
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	struct cmd cmds[2] = { { argv + 3, 0, 0, 0 }, { NULL, 0, 0, 0 } };
	int ncmds = 1, j, k;
	long i, n;

	if (argc < 4 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: drive N INPUT CMD [ARG...] [::: CMD2 [ARG...]]\n");
		return 64;
	}
	for (j = 3; j < argc; j++)
		if (!strcmp(argv[j], ":::")) {
			argv[j] = NULL;
			if (j + 1 >= argc || j == 3) {
				fprintf(stderr, "drive: empty command around :::\n");
				return 64;
			}
			cmds[1].argv = argv + j + 1;
			ncmds = 2;
			break;
		}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, argv[2], O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	for (i = 0; i < n; i++)
		for (k = 0; k < ncmds; k++)
			/* alternate which goes first in each pair as well */
			if (run_one(&cmds[ncmds == 2 ? (int)((i + k) & 1) : 0], &fa, i) < 0)
				return 1;
	for (k = 0; k < ncmds; k++)
		printf("%c n=%ld secs=%.3f rate=%.1f cpu_ms=%.3f maxrss_kib=%ld\n",
		       'A' + k, n, cmds[k].secs, (double)n / cmds[k].secs,
		       cmds[k].cpu_ms / (double)n, cmds[k].maxrss);
	return 0;
}
