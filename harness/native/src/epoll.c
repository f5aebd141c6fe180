/*
 * epoll.c - epoll_create1, epoll_ctl, epoll_wait and poll.
 *
 * epoll_event.data carries a handle token (slot + incarnation, see
 * handles.h), so "ready" names handles in the order the kernel returned
 * them from the ready list (ep_send_events).
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define EPOLL_EVENTS_MAX 4096  /* buffer bound; larger maxevents is refused */
#define POLL_MAX 1024

static const flagdef_t epoll_defs[] = { OPTABLE_EPOLL_EVENTS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t epoll_create_defs[] = { OPTABLE_EPOLL_CREATE_FLAGS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t ctl_defs[] = { OPTABLE_EPOLL_CTL_OPS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t poll_defs[] = { OPTABLE_POLL_EVENTS(FLAGDEF_) { NULL, 0 } };

void op_epoll_create1(const cmd_t *c)
{
	unsigned long flags = 0;

	if (cmd_new_handle(c, 0) < 0)
		return;
	if (c->nargs > 1 && cmd_flags(c, c->args[1], epoll_create_defs, "epoll_create1", &flags) < 0)
		return;

	int64_t t0, t1;
	int fd, err;
	ev_t e;

	TIMED_CALL(t0, t1, fd, err, epoll_create1((int)flags));
	ev_begin(&e, c->step, "epoll_create1");
	ev_new_handle(&e, c->args[0], fd);
	ev_result(&e, t0, t1, fd, err);
	ev_end(&e);
}

void op_epoll_ctl(const cmd_t *c)
{
	unsigned long op, events = 0;
	int eslot = cmd_handle(c, 0);

	if (eslot < 0 || cmd_keyword(c, c->args[1], ctl_defs, "epoll_ctl op", &op) < 0)
		return;
	int slot = cmd_handle(c, 2);
	if (slot < 0)
		return;
	if (c->nargs > 3 && cmd_flags(c, c->args[3], epoll_defs, "epoll", &events) < 0)
		return;

	/* A non-NULL event is passed for DEL too (pre-2.6.9 kernels needed it). */
	struct epoll_event ev = { .events = (uint32_t)events, .data.u64 = handle_token(slot) };
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, epoll_ctl(handle_fd(eslot), (int)op, handle_fd(slot), &ev));
	ev_begin(&e, c->step, "epoll_ctl");
	ev_kstr(&e, "h", handle_name(eslot));
	ev_kstr(&e, "ctl", op == EPOLL_CTL_ADD ? "EPOLL_CTL_ADD" :
			   op == EPOLL_CTL_MOD ? "EPOLL_CTL_MOD" : "EPOLL_CTL_DEL");
	ev_kstr(&e, "target", handle_name(slot));
	ev_key(&e, "events");
	ev_flags(&e, events, epoll_flag_names);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_epoll_wait(const cmd_t *c)
{
	long long maxev, timeout;
	int eslot = cmd_handle(c, 0);

	if (eslot < 0 ||
	    cmd_int(c, c->args[1], "maxevents", INT_MIN, EPOLL_EVENTS_MAX, &maxev) < 0 ||
	    cmd_int(c, c->args[2], "timeout_ms", INT_MIN, INT_MAX, &timeout) < 0)
		return;

	/* maxevents <= 0 is passed through so the kernel's EINVAL is observed;
	 * the buffer always has at least one slot. */
	struct epoll_event *evs = calloc(maxev > 0 ? (size_t)maxev : 1, sizeof *evs);
	if (!evs) {
		cmd_error(c, "out of memory");
		return;
	}

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, epoll_wait(handle_fd(eslot), evs, (int)maxev, (int)timeout));
	ev_begin(&e, c->step, "epoll_wait");
	ev_kstr(&e, "h", handle_name(eslot));
	ev_kint(&e, "maxevents", maxev);
	ev_kint(&e, "timeout", timeout);
	if (ret >= 0) {
		ev_key(&e, "ready");
		ev_arr_open(&e);
		for (int i = 0; i < ret; i++) {
			int slot = handle_from_token(evs[i].data.u64);

			ev_obj_open(&e);
			if (slot >= 0) {
				ev_kstr(&e, "h", handle_name(slot));
			} else {
				/* A registration of no live handle here (another
				 * probe's, in a shared instance, under a name this
				 * probe does not have): "#<slot and generation>". */
				char tmp[32];

				snprintf(tmp, sizeof tmp, "#%llu",
					 HANDLE_TOKEN_SHOWN(evs[i].data.u64));
				ev_kstr(&e, "h", tmp);
			}
			ev_key(&e, "events");
			ev_flags(&e, evs[i].events, epoll_flag_names);
			ev_obj_close(&e);
		}
		ev_arr_close(&e);
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
	free(evs);
}

/*
 * poll <timeout_ms> H:<events> [H:<events> ...], and ppoll with the same
 * arguments: one implementation, two syscalls (ppoll takes a timespec; a
 * negative timeout is NULL, wait for ever). The event is named after the
 * syscall made.
 */
static void poll_family(const cmd_t *c, int use_ppoll)
{
	const char *op = use_ppoll ? "ppoll" : "poll";
	long long timeout;
	int n = c->nargs - 1;

	if (cmd_int(c, c->args[0], "timeout_ms", INT_MIN, INT_MAX, &timeout) < 0)
		return;
	if (n > POLL_MAX) {
		cmd_error(c, "too many %s entries (max %d)", op, POLL_MAX);
		return;
	}

	struct pollfd *pfd = calloc(n > 0 ? (size_t)n : 1, sizeof *pfd);
	int *slots = calloc(n > 0 ? (size_t)n : 1, sizeof *slots);
	if (!pfd || !slots) {
		cmd_error(c, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *tok = c->args[i + 1];
		const char *colon = strchr(tok, ':');
		char name[HANDLE_NAME_MAX + 2];
		unsigned long events;

		if (!colon) {
			cmd_error(c, "poll entry '%.64s' is not H:<events>", tok);
			goto out;
		}
		if ((size_t)(colon - tok) > HANDLE_NAME_MAX) {
			cmd_error(c, "bad handle name in '%.64s'", tok);
			goto out;
		}
		memcpy(name, tok, (size_t)(colon - tok));
		name[colon - tok] = '\0';
		if (!handle_name_ok(name)) {
			cmd_error(c, "bad handle name in '%.64s'", tok);
			goto out;
		}
		slots[i] = handle_find(name);
		if (slots[i] < 0) {
			cmd_error(c, "unknown handle '%s'", name);
			goto out;
		}
		if (cmd_flags(c, colon + 1, poll_defs, "poll", &events) < 0)
			goto out;
		pfd[i].fd = handle_fd(slots[i]);
		pfd[i].events = (short)events;
	}

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	struct timespec ts = { .tv_sec = (time_t)(timeout / 1000), .tv_nsec = (long)(timeout % 1000) * 1000000L };
	if (use_ppoll)
		TIMED_CALL(t0, t1, ret, err, ppoll(pfd, (nfds_t)n, timeout < 0 ? NULL : &ts, NULL));
	else
		TIMED_CALL(t0, t1, ret, err, poll(pfd, (nfds_t)n, (int)timeout));
	ev_begin(&e, c->step, op);
	ev_kint(&e, "timeout", timeout);
	if (ret >= 0) {
		ev_key(&e, "revents");
		ev_arr_open(&e);
		for (int i = 0; i < n; i++) {
			ev_obj_open(&e);
			ev_kstr(&e, "h", handle_name(slots[i]));
			ev_key(&e, "events");
			ev_flags(&e, (unsigned short)pfd[i].revents, poll_flag_names);
			ev_obj_close(&e);
		}
		ev_arr_close(&e);
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
out:
	free(pfd);
	free(slots);
}

void op_poll(const cmd_t *c)
{
	poll_family(c, 0);
}

void op_ppoll(const cmd_t *c)
{
	poll_family(c, 1);
}
