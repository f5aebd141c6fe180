/*
 * share.c - one open file description held by several probes without an
 * SCM_RIGHTS exchange: the holder names the descriptor behind a handle
 * (share), a receiver duplicates it out of the holder with pidfd_open(2)
 * and pidfd_getfd(2) (Linux 5.6; the caller needs ptrace access to the
 * holder, which root has). The receiver's new descriptor refers to the same
 * open file, as after SCM_RIGHTS or fork (file_dup_to / receive_fd).
 */
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ops.h"

/* Old libc headers: the numbers are the same on every architecture (asm-generic, 5.3 and 5.6). */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* share H: fstat() of H's descriptor; reports the descriptor number a
 * receiver asks pidfd_getfd for, and the inode that identifies the file. */
void op_share(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);

	if (slot < 0)
		return;

	struct stat st;
	int64_t t0, t1;
	int ret, err;
	ev_t e;
	int fd = handle_fd(slot);

	TIMED_CALL(t0, t1, ret, err, fstat(fd, &st));
	ev_begin(&e, c->step, "share");
	ev_kstr(&e, "h", handle_name(slot));
	ev_kint(&e, "fd", fd);
	if (ret == 0)
		ev_kuint(&e, "ino", (unsigned long long)st.st_ino);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/* pidfd_getfd NEW PID FD: a pidfd for PID, then a copy of its descriptor FD
 * as handle NEW; the pidfd is closed again. One event per syscall that
 * matters: pidfd_open (pid), then pidfd_getfd (fd, new, ino) when the first
 * succeeded. */
void op_pidfd_getfd(const cmd_t *c)
{
	long long pid, fd;

	if (cmd_new_handle(c, 0) < 0 || cmd_int(c, c->args[1], "pid", 1, 4194304, &pid) < 0 ||
	    cmd_int(c, c->args[2], "fd", 0, 1048576, &fd) < 0)
		return;

	int64_t t0, t1;
	int pidfd, newfd, err;
	ev_t e;

	TIMED_CALL(t0, t1, pidfd, err, (int)syscall(SYS_pidfd_open, (pid_t)pid, 0));
	ev_begin(&e, c->step, "pidfd_open");
	ev_kint(&e, "pid", pid);
	ev_result(&e, t0, t1, pidfd, err);
	ev_end(&e);
	if (pidfd < 0)
		return;

	TIMED_CALL(t0, t1, newfd, err, (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0));
	close(pidfd);
	ev_begin(&e, c->step, "pidfd_getfd");
	ev_kint(&e, "fd", fd);
	if (newfd >= 0) {
		struct stat st;

		handle_add(c->args[0], newfd);
		ev_kstr(&e, "new", c->args[0]);
		if (fstat(newfd, &st) == 0)
			ev_kuint(&e, "ino", (unsigned long long)st.st_ino);
	}
	ev_result(&e, t0, t1, newfd, err);
	ev_end(&e);
}
