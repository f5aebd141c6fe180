/*
 * main.c - sockspec-probe: one actor of a sockspec scenario.
 *
 * Reads one command per line on stdin, makes the syscalls, writes one JSON
 * event per syscall on stdout (PROTOCOL.md). Single threaded on purpose: a
 * blocking syscall blocks this actor, and the runner waits for its event.
 */
#include "command.h"
#include "event.h"
#include "handles.h"
#include "ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>


/* capture.c: "sockspec-probe capture <ifname>..." (PROTOCOL.md, "Capture
 * mode"); a separate argv mode that reads no commands. */
#include "capture.h"
/* hostnet.c: "sockspec-probe hosts", the run's host helper (PROTOCOL.md). */
#include "hostnet.h"

typedef struct {
	const char *name;
	void (*fn)(const cmd_t *c);
	int min_args;   /* positional args after the op */
	int max_args;   /* -1: unbounded */
	const char *usage;
} opdef_t;

/* The dispatch table is generated from the op table (optable.gen.h). */
#define OPDEF_(name, fn, min, max, usage) { name, fn, min, max, usage },
static const opdef_t ops[] = {
	OPTABLE_COMMANDS(OPDEF_)
	{ NULL, NULL, 0, 0, NULL }
};
#undef OPDEF_

/*
 * capture IFNAME...: the probe becomes a capture process (as if started with
 * `sockspec-probe capture IFNAME...`) and never returns to commands: a
 * second hello names the interfaces, packets follow, EOF or quit ends it.
 * For probes that cannot be started in capture mode (a vm guest's, after
 * `netns`). Nothing more may be sent before EOF: stdin is read raw from here.
 */
void op_capture(const cmd_t *c)
{
	ev_batch(0);  /* capture writes each packet as it comes */
	exit(capture_main(c->nargs, (char **)c->args));
}

/*
 * hosts: the probe becomes the host helper (as if started with
 * `sockspec-probe hosts`, PROTOCOL.md "Host helper mode") and never returns
 * to commands: a second hello, then the helper's commands until EOF or
 * quit. For a vm guest, whose probes the harness cannot start with an argv
 * of its own: one leased port's probe builds every scenario's namespaces
 * over rtnetlink instead of an ip process per batch. stdin stays the same
 * FILE, so lines already buffered are the helper's.
 */
void op_hosts(const cmd_t *c)
{
	(void)c;
	exit(hosts_main());
}

/*
 * The network namespace the probe started in, kept open so `reset` can go
 * back to it after `netns`. Moved to a high descriptor so the scenario's
 * descriptors (and thus their numbers in traces) are those of a probe
 * without it.
 */
static int home_ns = -1;
#define HOME_NS_FD_MIN 1000
/* Set by reset: the event counter restarts once its done frame is out. */
static int seq_restart;

static void keep_home_ns(void)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;   /* no /proc: reset then refuses to call itself clean */
	home_ns = fcntl(fd, F_DUPFD_CLOEXEC, HOME_NS_FD_MIN);
	if (home_ns < 0)
		home_ns = fd;  /* a low fd limit: keep the low one */
	else
		close(fd);
}

/* Closes every descriptor but 0-2, the home namespace and keep; returns
 * how many it closed, or -1 with errno when /proc/self/fd cannot be read.
 * With close_them 0 it only counts. */
static int sweep_fds(int close_them)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0, fds[256], nfds;
	struct dirent *de;

	if (!d)
		return -1;
	do {
		/* collect, then close: the directory is not read while it changes */
		nfds = 0;
		rewinddir(d);
		while ((de = readdir(d)) && nfds < (int)(sizeof fds / sizeof fds[0])) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			int fd = atoi(de->d_name);
			if (fd > 2 && fd != home_ns && fd != dirfd(d))
				fds[nfds++] = fd;
		}
		if (!close_them) {
			closedir(d);
			return nfds;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		n += nfds;
	} while (nfds == (int)(sizeof fds / sizeof fds[0]));
	closedir(d);
	return n;
}

/* The only place `reset DIR` empties: a vm guest's per-port scratch dirs. */
#define SCRATCH_PREFIX "/tmp/sockspec-vm"

/* Removes everything inside the directory dfd (closed here), at most 16
 * levels deep, symlinks not followed. Returns the entries removed, or -1
 * with errno (what it could remove is gone). */
static int empty_dir_fd(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int n = 0, err = 0;

	if (!d) {
		err = errno;
		close(dfd);
		errno = err;
		return -1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
			n++;
			continue;
		}
		if (errno != EISDIR && errno != EPERM) {
			err = errno;
			continue;
		}
		int sub = depth < 16 ? openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		int k = sub < 0 ? -1 : empty_dir_fd(sub, depth + 1);

		if (k < 0) {
			err = sub < 0 && depth >= 16 ? ELOOP : errno;
			continue;
		}
		n += k;
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
			n++;
		else
			err = errno;
	}
	closedir(d);
	if (err) {
		errno = err;
		return -1;
	}
	return n;
}

/* Empties (or makes) a scratch dir under SCRATCH_PREFIX; -1 with errno
 * (EPERM for a path elsewhere: reset removes nothing it was not made for). */
static int empty_scratch(const char *path)
{
	int fd;

	if (strncmp(path, SCRATCH_PREFIX, strlen(SCRATCH_PREFIX)) != 0 || strstr(path, "/..") ||
	    strchr(path + strlen(SCRATCH_PREFIX), '/')) {
		errno = EPERM;
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdir(path, 0755) < 0)
			return -1;
		return 0;
	}
	return fd < 0 ? -1 : empty_dir_fd(fd, 0);
}

/*
 * reset: return the probe to the state of a fresh one, so the harness can
 * give it the next result (PROTOCOL.md, "Reuse"). Closes every handle (and
 * with them epoll sets, gates and socket filters), any other descriptor the
 * scenario left, goes back to the start namespace, restarts the event
 * counter. One event, op "reset": closed (handles), stray (other fds),
 * netns ("home" or "back"), fds (descriptors left besides 0-2: 0 when
 * clean); ret -1 with errno when it could not check or go back.
 *
 * reset DIR (a vm guest's probe, whose port outlives one session): DIR, a
 * scratch dir of the session's unix socket paths, is emptied ("emptied":
 * entries removed), and a stderr that is a regular file (the guest's
 * per-port log, sent back when the probe dies) starts empty again, so the
 * next session sees neither. Failing to empty it fails the reset.
 */
void op_reset(const cmd_t *c)
{
	int64_t t0 = mono_ns(), t1;
	int closed = handles_close_all(), stray, left, ret = 0, err = 0, back = 0, emptied = 0;
	struct stat home, now;
	ev_t e;

	if (c->nargs == 1) {
		struct stat st;

		emptied = empty_scratch(c->args[0]);
		if (emptied < 0) {
			ret = -1;
			err = errno;
		}
		if (fstat(2, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(2, 0) == 0)
			(void)lseek(2, 0, SEEK_SET);
	}

	handles_reset_generations();
	mib_reset();
	uring_reset();
	{
		/* a SIGPIPE left pending (blocked) by the last result would answer
		 * the next result's take_sigpipe: take it now (it does not queue) */
		sigset_t pipe_set;
		struct timespec zero = { 0, 0 };
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	}
	stray = sweep_fds(1);
	/* every step runs whatever failed before it; the first failure is the one reported */
	if (stray < 0 && ret == 0) {
		ret = -1;
		err = errno;
	}
	if (home_ns < 0) {
		if (ret == 0)
			err = ENOENT;
		ret = -1;
	} else if (fstat(home_ns, &home) < 0 || stat("/proc/self/ns/net", &now) < 0) {
		if (ret == 0)
			err = errno;
		ret = -1;
	} else if (home.st_ino != now.st_ino || home.st_dev != now.st_dev) {
		if (setns(home_ns, CLONE_NEWNET) < 0) {
			if (ret == 0)
				err = errno;
			ret = -1;
		} else
			back = 1;
	}
	left = sweep_fds(0);
	if (left != 0 && ret == 0) {
		ret = -1;
		err = left < 0 ? errno : EBUSY;
	}
	t1 = mono_ns();
	ev_begin(&e, c->step, "reset");
	ev_kint(&e, "closed", closed);
	ev_kint(&e, "stray", stray < 0 ? 0 : stray);
	ev_kstr(&e, "netns", back ? "back" : "home");
	ev_kint(&e, "fds", left);
	if (c->nargs == 1)
		ev_kint(&e, "emptied", emptied < 0 ? 0 : emptied);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
	seq_restart = 1;
}

/* Parses and runs one line. Returns 1 when the probe must exit (quit). */
static int run_line(char *line, cmd_t *c)
{
	if (cmd_tokenize(line, c) < 0 || !c->op)
		return 0;

	const opdef_t *d;
	for (d = ops; d->name; d++)
		if (strcmp(d->name, c->op) == 0)
			break;
	if (!d->name) {
		cmd_error(c, "unknown op '%.40s'", c->op_token);
		return 0;
	}
	if (cmd_split_options(c, d->min_args) < 0)
		return 0;
	if (c->nargs < d->min_args || (d->max_args >= 0 && c->nargs > d->max_args)) {
		cmd_error(c, "%s: usage: %s", c->nargs < d->min_args ?
			  "missing arguments" : "too many arguments", d->usage);
		return 0;
	}
	/* No command of protocol version 1 takes key=value options. */
	if (c->nkv > 0) {
		cmd_error(c, "unknown option '%.40s'", c->key[0]);
		return 0;
	}
	if (!d->fn)
		return 1;   /* quit */
	d->fn(c);
	return 0;
}

/*
 * Reads one line into buf (at most LINE_MAX_LEN bytes, without the '\n').
 * Returns the length, -1 at EOF with nothing read, or -2 for a line that
 * was too long (the rest of it is consumed; buf keeps its first
 * LINE_MAX_LEN bytes so the error can still name step and op).
 */
static long read_line(char *buf, int *saw_nul)
{
	long n = 0;
	int ch, too_long = 0;

	*saw_nul = 0;
	while ((ch = getc_unlocked(stdin)) != EOF && ch != '\n') {
		if (n < LINE_MAX_LEN) {
			if (ch == '\0')
				*saw_nul = 1;
			buf[n++] = (char)ch;
		} else {
			too_long = 1;
		}
	}
	buf[n] = '\0';
	if (ch == EOF && n == 0 && !too_long)
		return -1;
	return too_long ? -2 : n;
}

int main(int argc, char **argv)
{
	static char line[LINE_MAX_LEN + 1];
	static cmd_t cmd;  /* large (token arrays); one command at a time */

	/* send() on a reset/closed connection must report EPIPE, not kill us.
	 * Blocked as well, so the SIGPIPE a send raises stays pending for
	 * take_sigpipe to observe (ignored and unblocked, it would vanish). */
	signal(SIGPIPE, SIG_IGN);
	{
		sigset_t pipe_set;

		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigprocmask(SIG_BLOCK, &pipe_set, NULL);
	}

	if (argc >= 2 && strcmp(argv[1], "capture") == 0)
		return capture_main(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "hosts") == 0)
		return hosts_main();

	keep_home_ns();
	/* Descriptors inherited from whoever started us are none of the
	 * scenario's: without them a fresh probe numbers its descriptors as a
	 * reset one does. */
	sweep_fds(1);
	ev_hello(0, NULL);
	/* From here every command's events leave with its done frame. */
	ev_batch(1);
	for (;;) {
		int saw_nul;
		long n = read_line(line, &saw_nul);
		unsigned long long before = ev_count();

		if (n == -1)
			break;
		if (n == -2 || saw_nul) {
			/* Rejected whole; name step and op if the line starts
			 * with them. */
			char step[STEP_MAX + 1], op[32];

			cmd_head(line, (size_t)(n == -2 ? LINE_MAX_LEN : n), step, sizeof step, op, sizeof op);
			if (n == -2)
				ev_error(step, op, "line longer than %d bytes", LINE_MAX_LEN);
			else
				ev_error(step, op, "NUL byte in line");
			ev_done(step, ev_count() - before);
			continue;
		}
		if (run_line(line, &cmd))
			break;       /* quit: nothing more is written */
		/* Completion frame for every command (blank lines are none). */
		if (cmd.op)
			ev_done(cmd.step, ev_count() - before);
		ev_flush();  /* an error event of a line with no op */
		if (seq_restart) {
			ev_seq_restart();
			seq_restart = 0;
		}
	}
	/* quit or EOF: close every handle, silently. */
	handles_close_all();
	return 0;
}
