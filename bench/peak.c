/* SPDX-License-Identifier: MIT */
/*
 * peak: run one command and report its wall time and its own peak RSS,
 * for bench/send.sh.
 *
 *   peak OUTFILE CMD [ARG...]
 *
 * Runs CMD (stdin and stderr inherited, stdout on /dev/null) under
 * ptrace(2) with PTRACE_O_TRACEEXIT, so that it stops at its exit while its
 * memory still exists, reads VmHWM from /proc/PID/status there, lets it
 * finish, and writes one line to OUTFILE:
 *
 *   secs=S vmhwm_kib=K cpu_ms=C status=X
 *
 * VmHWM belongs to the address space the exec made, so unlike a child's
 * ru_maxrss it owes nothing to the parent's memory at fork.  Signals other
 * than the trace stops are passed on unchanged.  Exit status: the command's
 * (1 if it was killed).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long vmhwm(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6))
			kib = atol(line + 6);
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	long hwm = -1;
	double t0;
	pid_t pid;
	int status, sig, fd;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: peak OUTFILE CMD [ARG...]\n");
		return 64;
	}
	if (!(out = fopen(argv[1], "w"))) {
		perror(argv[1]);
		return 70;
	}
	t0 = now();
	pid = fork();
	if (pid < 0) {
		perror("peak: fork");
		return 70;
	}
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(127);
		close(fd);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(127);
		execv(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	/* the SIGTRAP of the exec */
	if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status)) {
		fprintf(stderr, "peak: %s did not start\n", argv[2]);
		return 70;
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_TRACEEXIT);
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	for (;;) {
		if (wait4(pid, &status, 0, &ru) < 0) {
			perror("peak: wait4");
			return 70;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		sig = WSTOPSIG(status);
		if (sig == SIGTRAP && (status >> 16) == PTRACE_EVENT_EXIT) {
			hwm = vmhwm(pid);
			sig = 0;
		} else if (sig == SIGTRAP)
			sig = 0;
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
	}
	fprintf(out, "secs=%.4f vmhwm_kib=%ld cpu_ms=%.1f status=%d\n", now() - t0, hwm,
		(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3,
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fclose(out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
