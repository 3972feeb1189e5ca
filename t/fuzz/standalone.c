/* SPDX-License-Identifier: MIT */
/*
 * A main() for the fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput
 * once on each file named (or each file in each directory named), so that the
 * committed corpus is a regression test under gcc, ASan or not (t/0100).
 * Each input is read into a buffer of exactly its size (ASan sees overreads).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mf_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define INPUT_MAX (16u << 20)

static int run_file(const char *path)
{
	struct stat sb;
	uint8_t *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > INPUT_MAX) {
		fprintf(stderr, "input %s: not a readable regular file under 16 MiB\n", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	n = buf ? mf_read_upto(fd, buf, (size_t)sb.st_size) : -1;
	close(fd);
	if (n != (ssize_t)sb.st_size) {
		fprintf(stderr, "input %s: short read\n", path);
		free(buf);
		return -1;
	}
	fprintf(stderr, "input %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order; the count run, or -1. */
static int run_dir(const char *dir)
{
	struct dirent **list;
	char path[4096];
	int i, n, runs = 0, bad = 0;

	n = scandir(dir, &list, NULL, NULL);
	if (n < 0) {
		perror(dir);
		return -1;
	}
	qsort(list, (size_t)n, sizeof *list, by_name);
	for (i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
			if (run_file(path) < 0)
				bad = 1;
			else
				runs++;
		}
		free(list[i]);
	}
	free(list);
	return bad ? -1 : runs;
}

int main(int argc, char **argv)
{
	struct stat sb;
	int i, n, dir, total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 64;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		dir = stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode);
		n = dir ? run_dir(argv[i]) : run_file(argv[i]);
		if (n < 0)
			return 66;
		total += dir ? n : 1;
	}
	fprintf(stderr, "%s: %d inputs ran\n", argv[0], total);
	return 0;
}
