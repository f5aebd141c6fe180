/*
 * blocked.c - wait_blocked: wait until another process (an actor's probe on
 * this machine) sleeps inside a system call, instead of a fixed sleep.
 *
 * Polls /proc/<pid>/stat (state S or D), /proc/<pid>/syscall (the number of
 * the call it sleeps in; "running" while on a CPU, see proc_pid_syscall and
 * task_current_syscall) and /proc/<pid>/wchan (where it sleeps). A probe
 * waiting for its next command sleeps in read() on fd 0: that is idle, not
 * blocked, and does not count.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"

static const struct {
	long nr;
	const char *name;
} syscall_names[] = {
	{ SYS_read, "read" },
	{ SYS_write, "write" },
	{ SYS_accept4, "accept4" },
	{ SYS_connect, "connect" },
	{ SYS_recvfrom, "recvfrom" },
	{ SYS_sendto, "sendto" },
	{ SYS_recvmsg, "recvmsg" },
	{ SYS_sendmsg, "sendmsg" },
	{ SYS_ppoll, "ppoll" },
	{ SYS_pselect6, "pselect6" },
	{ SYS_epoll_pwait, "epoll_pwait" },
	{ SYS_nanosleep, "nanosleep" },
	{ SYS_clock_nanosleep, "clock_nanosleep" },
	{ SYS_rt_sigtimedwait, "rt_sigtimedwait" },
	{ SYS_wait4, "wait4" },
#ifdef SYS_accept
	{ SYS_accept, "accept" },
#endif
#ifdef SYS_poll
	{ SYS_poll, "poll" },
#endif
#ifdef SYS_select
	{ SYS_select, "select" },
#endif
#ifdef SYS_epoll_wait
	{ SYS_epoll_wait, "epoll_wait" },
#endif
#ifdef SYS_epoll_pwait2
	{ SYS_epoll_pwait2, "epoll_pwait2" },
#endif
#ifdef SYS_io_uring_enter
	{ SYS_io_uring_enter, "io_uring_enter" },
#endif
};

/* Reads a small /proc file into buf (NUL-terminated, trailing newline cut); -1 with errno on failure. */
static int read_proc(long pid, const char *what, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/%s", pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	int err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

static const char *syscall_name(long nr, char *buf, size_t size)
{
	for (size_t i = 0; i < sizeof syscall_names / sizeof syscall_names[0]; i++)
		if (syscall_names[i].nr == nr)
			return syscall_names[i].name;
	snprintf(buf, size, "%ld", nr);
	return buf;
}

void op_wait_blocked(const cmd_t *c)
{
	long long pid, timeout_ms;

	if (cmd_int(c, c->args[0], "pid", 1, 4194304, &pid) < 0 ||
	    cmd_int(c, c->args[1], "timeout milliseconds", 0, 120000, &timeout_ms) < 0)
		return;
	if (pid == getpid()) {
		cmd_error(c, "an actor cannot wait for itself to block");
		return;
	}

	char stat[1024], sys[256], wchan[128], state = '?', nrbuf[24];
	const char *name = "running";
	long long polls = 0;
	int unnamed = 0;  /* blocked samples in a row whose wchan read "0" */
	int ret = -1, err = ETIMEDOUT;
	int64_t t0 = mono_ns(), t1 = t0, until = t0 + timeout_ms * 1000000LL;
	wchan[0] = '\0';

	for (;;) {
		polls++;
		if (read_proc(pid, "stat", stat, sizeof stat) < 0) {
			err = errno;
			t1 = mono_ns();
			break;
		}
		/* the state follows the last ')': the command name may hold anything */
		const char *rp = strrchr(stat, ')');
		state = rp && rp[1] == ' ' ? rp[2] : '?';
		if (read_proc(pid, "wchan", wchan, sizeof wchan) < 0)
			wchan[0] = '\0';
		int blocked = 0;
		if (state == 'S' || state == 'D') {
			if (read_proc(pid, "syscall", sys, sizeof sys) == 0) {
				char *end;
				long nr = strtol(sys, &end, 10);
				if (end != sys) {
					unsigned long long arg0 = strtoull(end, NULL, 16);
					name = syscall_name(nr, nrbuf, sizeof nrbuf);
					/* read(0): the probe waits for its next command */
					blocked = !(nr == SYS_read && arg0 == 0);
				} else {
					name = "running";
				}
			} else {
				/* /proc/PID/syscall needs ptrace-attach rights (Yama): judge by wchan alone */
				name = "?";
				blocked = wchan[0] && strcmp(wchan, "0") != 0 && !strstr(wchan, "pipe_read");
			}
		} else {
			name = "running";
		}
		/* stat, syscall and wchan are three reads: a task caught going to
		 * sleep is already S but still on its CPU, and its wchan reads "0".
		 * Take the next sample then; only a kernel that never names the
		 * wait channel (20 samples in a row) is believed without it. */
		int held = 0;
		if (blocked && (!wchan[0] || strcmp(wchan, "0") == 0) && ++unnamed < 20)
			blocked = 0, held = 1;
		t1 = mono_ns();
		if (blocked) {
			ret = 0;
			err = 0;
			break;
		}
		/* a deadline that falls inside a run of unnamed samples waits for
		 * the run's end (at most 20 samples): with timeout 0 a kernel that
		 * never names it (5.10 in a Debian guest: x86's get_wchan walked
		 * frame pointers only, so an ORC-unwinder kernel reads "0", until
		 * "x86: Fix get_wchan() to support the ORC unwinder" in 5.16)
		 * would otherwise never be believed; unnamed only grows, so this
		 * adds at most 19 samples */
		if (t1 >= until && !held)
			break;
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}

	ev_t e;
	char st[2] = { state, '\0' };
	ev_begin(&e, c->step, "wait_blocked");
	ev_kint(&e, "pid", pid);
	ev_kint(&e, "polls", polls);
	/* as `value`, so a scenario can check the call: value: { syscall: accept4 } */
	ev_key(&e, "value");
	ev_obj_open(&e);
	ev_kstr(&e, "state", st);
	ev_kstr(&e, "syscall", name);
	ev_kstr(&e, "wchan", wchan);
	ev_obj_close(&e);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}
