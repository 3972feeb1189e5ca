/* SPDX-License-Identifier: MIT */
/*
 * floor: the least a per-message spool writer must do, for bench/receive.sh to
 * compare mf-receive with.  Built static; exec'd once per message.
 *
 *   floor DIR < message
 *
 * reads stdin into a new file DIR/tmp/NAME (64 KiB blocks), fsyncs it,
 * renames it to DIR/new/NAME, fsyncs DIR/new and prints the path -- the
 * durable cycle of performance.md's "durable-spool floor" and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static char buf[65536];

static void die(const char *what, const char *path)
{
	fprintf(stderr, "floor: %s %s: %s\n", what, path, strerror(errno));
	_exit(75);
}

int main(int argc, char **argv)
{
	char tmp[4096], dst[4096], dir[4096];
	struct timeval tv;
	ssize_t r, w;
	size_t off;
	int fd, dfd;

	if (argc != 2) {
		fprintf(stderr, "usage: floor DIR < message\n");
		return 64;
	}
	gettimeofday(&tv, NULL);
	snprintf(tmp, sizeof tmp, "%s/tmp/%lld.M%06ldP%ld", argv[1],
		 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid());
	snprintf(dst, sizeof dst, "%s/new/%lld.M%06ldP%ld", argv[1],
		 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid());
	snprintf(dir, sizeof dir, "%s/new", argv[1]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open", tmp);
	for (;;) {
		r = read(0, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read", "stdin");
		if (r == 0)
			break;
		for (off = 0; off < (size_t)r; off += (size_t)w) {
			w = write(fd, buf + off, (size_t)r - off);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				die("write", tmp);
		}
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		die("fsync", tmp);
	if (rename(tmp, dst) < 0)
		die("rename", tmp);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		die("fsync", dir);
	close(dfd);
	printf("%s\n", dst);
	return fflush(stdout) == EOF ? 75 : 0;
}
