/*
 * Baseline for `npm run bench`: the probe step round trip driven from C.
 * Starts the real probe on two pipes, then sends the same step the Node
 * bench sends (getsockopt SO_TYPE) and reads until its done frame, first
 * one step at a time, then all steps written ahead (pipelined).
 *
 *   pipe-rtt PROBE N [pipe|socketpair] [pipelined]
 *
 * prints "<sequential ns/step> <pipelined ns/step>" (sequential 0 when only
 * `pipelined` was asked). The probe's stdin and stdout are pipes by default;
 * `socketpair` gives it AF_UNIX stream sockets instead, which is what Node's
 * child_process (libuv) gives every child it spawns with stdio 'pipe', so
 * the harness's probes always talk over sockets. What is left between the
 * socketpair figure and the Node one is the harness's own cost; between the
 * two C figures, the transport's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int to_probe, from_probe;
static char in[1 << 16];
static size_t in_len;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Reads until a line starting with `prefix` is complete; 1 found, 0 EOF. */
static int read_until(const char *prefix)
{
	size_t plen = strlen(prefix);
	for (;;) {
		char *start = in;
		char *nl;
		while ((nl = memchr(start, '\n', in_len - (size_t)(start - in))) != NULL) {
			int hit = (size_t)(nl - start) >= plen && memcmp(start, prefix, plen) == 0;
			start = nl + 1;
			if (hit) {
				in_len -= (size_t)(start - in);
				memmove(in, start, in_len);
				return 1;
			}
		}
		in_len -= (size_t)(start - in);
		memmove(in, start, in_len);
		ssize_t n = read(from_probe, in + in_len, sizeof in - in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		in_len += (size_t)n;
	}
}

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(to_probe, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		s += w;
		n -= (size_t)w;
	}
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	int sockets = argc > 3 && strcmp(argv[3], "socketpair") == 0;
	int only_pipelined = argc > 4 && strcmp(argv[4], "pipelined") == 0;
	int a[2], b[2];
	char cmd[128], done[64];

	signal(SIGPIPE, SIG_IGN);
	if (argc > 3 && !sockets && strcmp(argv[3], "pipe") != 0)
		return 2;
	if (n <= 0)
		return 2;
	/* a[0] and b[1] become the probe's stdin and stdout: for a socketpair
	 * both ends are bidirectional, used one way as libuv's are. */
	if (sockets ? socketpair(AF_UNIX, SOCK_STREAM, 0, a) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, b) < 0
		    : pipe(a) < 0 || pipe(b) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(a[0], 0);
		dup2(b[1], 1);
		close(a[0]); close(a[1]); close(b[0]); close(b[1]);
		execl(argv[1], argv[1], (char *)NULL);
		_exit(127);
	}
	close(a[0]);
	close(b[1]);
	to_probe = a[1];
	from_probe = b[0];
	if (!read_until("{\"seq\":0,"))
		die("hello");
	const char *first = "b0 socket C inet stream tcp 0\n";
	write_all(first, strlen(first));
	if (!read_until("{\"done\":\"b0\""))
		die("b0");

	long long t0 = now_ns();
	for (long i = 1; i <= (only_pipelined ? 0 : n); i++) {
		int len = snprintf(cmd, sizeof cmd, "b%ld getsockopt C socket SO_TYPE\n", i);
		write_all(cmd, (size_t)len);
		snprintf(done, sizeof done, "{\"done\":\"b%ld\"", i);
		if (!read_until(done))
			die("sequential step");
	}
	long long seq_ns = only_pipelined ? 0 : (now_ns() - t0) / n;

	/* Pipelined: the commands go out in as few writes as the pipe takes,
	 * answers are read as they come; never blocking on a full pipe in
	 * either direction (the probe may be blocked writing). */
	static char outbuf[1 << 16];
	fcntl(to_probe, F_SETFL, fcntl(to_probe, F_GETFL) | O_NONBLOCK);
	t0 = now_ns();
	long sent = 0, got = 0;
	size_t out_off = 0, out_len = 0;
	while (got < n) {
		if (out_off == out_len && sent < n) {
			out_off = out_len = 0;
			while (sent < n && out_len + 64 < sizeof outbuf)
				out_len += (size_t)snprintf(outbuf + out_len, sizeof outbuf - out_len,
							    "p%ld getsockopt C socket SO_TYPE\n", ++sent);
		}
		struct pollfd p[2] = { { from_probe, POLLIN, 0 }, { to_probe, POLLOUT, 0 } };
		int np = out_off < out_len ? 2 : 1;
		if (poll(p, (nfds_t)np, 5000) <= 0)
			die("poll");
		if (np == 2 && (p[1].revents & POLLOUT)) {
			ssize_t w = write(to_probe, outbuf + out_off, out_len - out_off);
			if (w > 0)
				out_off += (size_t)w;
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(from_probe, in + in_len, sizeof in - in_len);
			if (r <= 0)
				die("read");
			in_len += (size_t)r;
			char *start = in, *nl;
			while ((nl = memchr(start, '\n', in_len - (size_t)(start - in))) != NULL) {
				if (strncmp(start, "{\"done\":", 8) == 0)
					got++;
				start = nl + 1;
			}
			in_len -= (size_t)(start - in);
			memmove(in, start, in_len);
		}
	}
	long long pipe_ns = (now_ns() - t0) / n;

	close(to_probe);
	waitpid(pid, NULL, 0);
	printf("%lld %lld\n", seq_ns, pipe_ns);
	return 0;
}
