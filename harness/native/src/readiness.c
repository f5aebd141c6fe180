/*
 * readiness.c - the other doors to readiness (ppoll, select, epoll_pwait2)
 * and what epoll's own rules need (dup, close_keep, open, epoll_fdinfo,
 * drop_cap). See PROTOCOL.md.
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ENTRIES_MAX 1024
#define PWAIT2_EVENTS_MAX 4096
#define FDINFO_MAX 65536

static const flagdef_t set_defs[] = { OPTABLE_SELECT_SETS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t cap_defs[] = { OPTABLE_CAPS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t rlimit_defs[] = { OPTABLE_RLIMITS(FLAGDEF_) { NULL, 0 } };
static const flagname_t set_names[] = { { 1, "read" }, { 2, "write" }, { 4, "except" }, { 0, NULL } };

/* "H:<flags>" -> slot and flags; -1 + error event on failure. */
static int handle_entry(const cmd_t *c, const char *tok, const flagdef_t *tab, const char *what,
			int *slot, unsigned long *flags)
{
	const char *colon = strchr(tok, ':');
	char name[HANDLE_NAME_MAX + 2];

	if (!colon || (size_t)(colon - tok) > HANDLE_NAME_MAX) {
		cmd_error(c, "%s entry '%.64s' is not H:<%s>", what, tok, what);
		return -1;
	}
	memcpy(name, tok, (size_t)(colon - tok));
	name[colon - tok] = '\0';
	if (!handle_name_ok(name)) {
		cmd_error(c, "bad handle name in '%.64s'", tok);
		return -1;
	}
	*slot = handle_find(name);
	if (*slot < 0) {
		cmd_error(c, "unknown handle '%s'", name);
		return -1;
	}
	return cmd_flags(c, colon + 1, tab, what, flags);
}

/* timeout_ms -> timespec, or NULL for a negative timeout (wait forever). */
static struct timespec *timeout_ts(long long ms, struct timespec *ts)
{
	if (ms < 0)
		return NULL;
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
	return ts;
}

/* ppoll is in epoll.c, beside poll: one implementation for both. */

/* select <timeout_ms> H:<read|write|except>...: ret counts set bits. */
void op_select(const cmd_t *c)
{
	long long timeout;
	int n = c->nargs - 1;
	int slots[HANDLE_MAX];
	unsigned long want[HANDLE_MAX];
	fd_set rd, wr, ex;
	int nfds = 0;

	if (cmd_int(c, c->args[0], "timeout_ms", INT_MIN, INT_MAX, &timeout) < 0)
		return;
	if (n > HANDLE_MAX) {
		cmd_error(c, "too many select entries (max %d)", HANDLE_MAX);
		return;
	}
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	for (int i = 0; i < n; i++) {
		if (handle_entry(c, c->args[i + 1], set_defs, "select", &slots[i], &want[i]) < 0)
			return;
		int fd = handle_fd(slots[i]);
		/* FD_SET past FD_SETSIZE writes out of bounds: refuse, no syscall. */
		if (fd < 0 || fd >= FD_SETSIZE) {
			cmd_error(c, "descriptor %d of '%s' does not fit an fd_set", fd, handle_name(slots[i]));
			return;
		}
		if (want[i] & 1)
			FD_SET(fd, &rd);
		if (want[i] & 2)
			FD_SET(fd, &wr);
		if (want[i] & 4)
			FD_SET(fd, &ex);
		if (fd + 1 > nfds)
			nfds = fd + 1;
	}

	struct timeval tv, *tvp = NULL;
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	if (timeout >= 0) {
		tv.tv_sec = (time_t)(timeout / 1000);
		tv.tv_usec = (suseconds_t)(timeout % 1000) * 1000;
		tvp = &tv;
	}
	TIMED_CALL(t0, t1, ret, err, select(nfds, &rd, &wr, &ex, tvp));
	ev_begin(&e, c->step, "select");
	ev_kint(&e, "timeout", timeout);
	if (ret >= 0) {
		ev_key(&e, "sets");
		ev_arr_open(&e);
		for (int i = 0; i < n; i++) {
			int fd = handle_fd(slots[i]);
			unsigned long got = (FD_ISSET(fd, &rd) ? 1 : 0) | (FD_ISSET(fd, &wr) ? 2 : 0) |
					    (FD_ISSET(fd, &ex) ? 4 : 0);

			ev_obj_open(&e);
			ev_kstr(&e, "h", handle_name(slots[i]));
			ev_key(&e, "sets");
			ev_flags(&e, got, set_names);
			ev_obj_close(&e);
		}
		ev_arr_close(&e);
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/* The ready list as epoll_wait reports it (epoll.c keeps its own copy). */
static void ev_ready(ev_t *e, const struct epoll_event *evs, int n)
{
	ev_key(e, "ready");
	ev_arr_open(e);
	for (int i = 0; i < n; i++) {
		int slot = handle_from_token(evs[i].data.u64);
		char tmp[32];

		ev_obj_open(e);
		if (slot >= 0) {
			ev_kstr(e, "h", handle_name(slot));
		} else {
			snprintf(tmp, sizeof tmp, "#%llu", HANDLE_TOKEN_SHOWN(evs[i].data.u64));
			ev_kstr(e, "h", tmp);
		}
		ev_key(e, "events");
		ev_flags(e, evs[i].events, epoll_flag_names);
		ev_obj_close(e);
	}
	ev_arr_close(e);
}

void op_epoll_pwait2(const cmd_t *c)
{
	long long maxev, timeout;
	int eslot = cmd_handle(c, 0);

	if (eslot < 0 || cmd_int(c, c->args[1], "maxevents", INT_MIN, PWAIT2_EVENTS_MAX, &maxev) < 0 ||
	    cmd_int(c, c->args[2], "timeout_ms", INT_MIN, INT_MAX, &timeout) < 0)
		return;
	struct epoll_event *evs = calloc(maxev > 0 ? (size_t)maxev : 1, sizeof *evs);
	if (!evs) {
		cmd_error(c, "out of memory");
		return;
	}

	struct timespec ts;
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	/* The raw syscall: the libc wrapper exists only since glibc 2.35, and a
	 * kernel before 5.11 answers ENOSYS, which is worth reporting as such. */
	TIMED_CALL(t0, t1, ret, err,
		   (int)syscall(SYS_epoll_pwait2, handle_fd(eslot), evs, (int)maxev, timeout_ts(timeout, &ts), NULL, 0));
	ev_begin(&e, c->step, "epoll_pwait2");
	ev_kstr(&e, "h", handle_name(eslot));
	ev_kint(&e, "maxevents", maxev);
	ev_kint(&e, "timeout", timeout);
	if (ret >= 0)
		ev_ready(&e, evs, ret);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
	free(evs);
}

void op_dup(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);

	if (slot < 0 || cmd_new_handle(c, 1) < 0)
		return;

	int64_t t0, t1;
	int fd, err;
	ev_t e;

	TIMED_CALL(t0, t1, fd, err, dup(handle_fd(slot)));
	ev_begin(&e, c->step, "dup");
	ev_kstr(&e, "h", handle_name(slot));
	ev_new_handle(&e, c->args[1], fd);
	ev_result(&e, t0, t1, fd, err);
	ev_end(&e);
}

/* close() and keep the name on the old number (and its epoll token). */
void op_close_keep(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);

	if (slot < 0)
		return;

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, close(handle_fd(slot)));
	ev_begin(&e, c->step, "close");
	ev_kstr(&e, "h", handle_name(slot));
	ev_kint(&e, "kept", 1);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/* open NEW <path>: the harness has confined the path to the private dir. */
void op_open(const cmd_t *c)
{
	if (cmd_new_handle(c, 0) < 0)
		return;
	const char *path = c->args[1];
	if (path[0] != '/') {
		cmd_error(c, "open: the path must be absolute (the harness resolves it)");
		return;
	}

	int64_t t0, t1;
	int fd, err;
	ev_t e;

	TIMED_CALL(t0, t1, fd, err, open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	ev_begin(&e, c->step, "open");
	ev_new_handle(&e, c->args[0], fd);
	ev_result(&e, t0, t1, fd, err);
	ev_end(&e);
}

/*
 * epoll_fdinfo E: fs/eventpoll.c ep_show_fdinfo writes one line per
 * registration: "tfd: %8d events: %8x data: %16llx pos:... ino:... sdev:...".
 * The data is the probe's handle token, so each is named by the handle it
 * was added through, closed (close_keep) or not.
 */
void op_epoll_fdinfo(const cmd_t *c)
{
	int eslot = cmd_handle(c, 0);

	if (eslot < 0)
		return;

	char path[64], *buf = malloc(FDINFO_MAX);
	if (!buf) {
		cmd_error(c, "out of memory");
		return;
	}
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", handle_fd(eslot));

	int64_t t0, t1;
	int fd, err;
	ev_t e;

	TIMED_CALL(t0, t1, fd, err, open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0) {
		ev_begin(&e, c->step, "epoll_fdinfo");
		ev_kstr(&e, "h", handle_name(eslot));
		ev_result(&e, t0, t1, fd, err);
		ev_end(&e);
		free(buf);
		return;
	}
	size_t len = 0;
	ssize_t r = 0;
	while (len < FDINFO_MAX - 1 && (r = read(fd, buf + len, FDINFO_MAX - 1 - len)) > 0)
		len += (size_t)r;
	err = r < 0 ? errno : 0;
	t1 = mono_ns();
	close(fd);
	buf[len] = '\0';

	ev_begin(&e, c->step, "epoll_fdinfo");
	ev_kstr(&e, "h", handle_name(eslot));
	int count = 0;
	if (!err) {
		ev_key(&e, "registered");
		ev_arr_open(&e);
		for (char *p = buf; (p = strstr(p, "tfd:")) != NULL; p += 4) {
			int tfd;   /* parsed, not reported */
			unsigned int events;
			unsigned long long data;
			char tmp[32];

			if (sscanf(p, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3)
				continue;
			int slot = handle_from_token(data);
			ev_obj_open(&e);
			if (slot >= 0) {
				ev_kstr(&e, "h", handle_name(slot));
			} else {
				snprintf(tmp, sizeof tmp, "#%llu", HANDLE_TOKEN_SHOWN(data));
				ev_kstr(&e, "h", tmp);
			}
			/* tfd is left out: descriptor numbers differ between
			 * hosts and would make equal traces compare different. */
			ev_key(&e, "events");
			ev_flags(&e, events, epoll_flag_names);
			ev_obj_close(&e);
			count++;
		}
		ev_arr_close(&e);
	}
	ev_result(&e, t0, t1, err ? -1 : count, err);
	ev_end(&e);
	free(buf);
}

/* drop_cap CAP: capget, then capset without CAP in the effective set. */
void op_drop_cap(const cmd_t *c)
{
	unsigned long cap;

	if (cmd_keyword(c, c->args[0], cap_defs, "capability", &cap) < 0)
		return;

	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) < 0) {
		cmd_error(c, "capget: %s", strerror(errno));
		return;
	}
	data[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	TIMED_CALL(t0, t1, ret, err, (int)syscall(SYS_capset, &hdr, data));
	ev_begin(&e, c->step, "capset");
	ev_kstr(&e, "cap", c->args[0]);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/*
 * setrlimit: the soft limit of one resource (RLIMIT_NOFILE) set to N, the
 * hard limit kept. For the rest of the probe's life (the pool does not
 * reuse it).
 */
void op_setrlimit(const cmd_t *c)
{
	unsigned long resource;
	long long limit;

	if (cmd_keyword(c, c->args[0], rlimit_defs, "resource", &resource) < 0 ||
	    cmd_int(c, c->args[1], "limit", 0, 1048576LL, &limit) < 0)
		return;

	struct rlimit rl;
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	if (getrlimit((int)resource, &rl) < 0) {
		cmd_error(c, "getrlimit: %s", strerror(errno));
		return;
	}
	rl.rlim_cur = (rlim_t)limit;
	TIMED_CALL(t0, t1, ret, err, setrlimit((int)resource, &rl));
	ev_begin(&e, c->step, "setrlimit");
	ev_kstr(&e, "resource", c->args[0]);
	ev_kint(&e, "limit", limit);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}
