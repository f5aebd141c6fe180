/*
 * Baseline for `npm run bench`: the same syscall the probe benchmark drives
 * (getsockopt SO_TYPE on a TCP socket), in a plain C loop, timed with
 * CLOCK_MONOTONIC. Prints nanoseconds per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || n <= 0) {
		perror("socket");
		return 1;
	}
	int v;
	socklen_t len;
	long long t0 = now_ns();
	for (long i = 0; i < n; i++) {
		len = sizeof v;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0) {
			perror("getsockopt");
			return 1;
		}
	}
	long long t1 = now_ns();
	printf("%.1f\n", (double)(t1 - t0) / (double)n);
	close(fd);
	return 0;
}
