/*
 * sockets.c - socket lifecycle and data transfer commands, fcntl, sleep.
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Upper bound for send/recv buffers: keeps a typo from eating the host. */
#define XFER_MAX (64LL << 20)

const flagdef_t msg_flag_defs[] = { OPTABLE_MSG_FLAGS(FLAGDEF_) { NULL, 0 } };

static const flagdef_t family_defs[] = { OPTABLE_FAMILIES(FLAGDEF_) { NULL, 0 } };
static const flagdef_t type_defs[] = { OPTABLE_TYPES(FLAGDEF_) { NULL, 0 } };
static const flagdef_t proto_defs[] = { OPTABLE_PROTOS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t sock_flag_defs[] = { OPTABLE_SOCK_FLAGS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t shut_defs[] = { OPTABLE_SHUT_HOW(FLAGDEF_) { NULL, 0 } };
/* F_SETFL can change only these (fs/fcntl.c SETFL_MASK). */
/* EPIOCGPARAMS (6.9, include/uapi/linux/eventpoll.h): _IOR(0x8A, 2, struct
 * epoll_params), an 8-byte struct; older headers lack it. */
#ifndef EPIOCGPARAMS
#define EPIOCGPARAMS _IOR(0x8A, 0x02, unsigned long long)
#endif
static const flagdef_t ioctl_defs[] = { OPTABLE_IOCTL_REQUESTS(FLAGDEF_) { NULL, 0 } };
static const flagdef_t setfl_defs[] = { OPTABLE_SETFL_FLAGS(FLAGDEF_) { NULL, 0 } };
/* Status flag names for F_GETFL results, ascending bits; the access mode
 * (O_RDONLY/O_WRONLY/O_RDWR, not a bit) is appended last. */
static const flagname_t o_flag_names[] = {
	{ O_APPEND, "O_APPEND" }, { O_NONBLOCK, "O_NONBLOCK" },
	{ O_DSYNC, "O_DSYNC" }, { O_ASYNC, "O_ASYNC" }, { O_DIRECT, "O_DIRECT" },
	{ O_NOATIME, "O_NOATIME" }, { O_CLOEXEC, "O_CLOEXEC" }, { 0, NULL }
};

/* ---- helpers ---------------------------------------------------------- */

/* Optional trailing flag set at args[idx]. */
static int opt_msg_flags(const cmd_t *c, int idx, int *flags)
{
	unsigned long v = 0;

	if (idx < c->nargs && cmd_flags(c, c->args[idx], msg_flag_defs, "message", &v) < 0)
		return -1;
	*flags = (int)v;
	return 0;
}

static int parse_nbytes(const cmd_t *c, const char *tok, size_t *n)
{
	long long v;

	if (cmd_int(c, tok, "nbytes", 0, XFER_MAX, &v) < 0)
		return -1;
	*n = (size_t)v;
	return 0;
}

/* nbytes of 'a'..'z' repeating, always starting at 'a'. */
static char *pattern(size_t n)
{
	char *buf = malloc(n ? n : 1);

	if (buf)
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)('a' + i % 26);
	return buf;
}

static void ev_open_h(ev_t *e, const cmd_t *c, const char *op, int slot)
{
	ev_begin(e, c->step, op);
	ev_kstr(e, "h", handle_name(slot));
}

/* F_GETFL result (with access mode) or F_SETFL argument (without: the
 * kernel ignores the access mode bits there, fs/fcntl.c setfl()). */
static void ev_o_flags(ev_t *e, long flags, int with_accmode)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };

	ev_key(e, "flags");
	ev_arr_open(e);
	ev_flag_items(e, (unsigned long)flags & ~(unsigned long)O_ACCMODE, o_flag_names);
	if (with_accmode)
		ev_str(e, acc[flags & O_ACCMODE]);
	ev_arr_close(e);
}

/* getsockname/getpeername, also used after a successful bind. */
static void name_call(const cmd_t *c, int slot, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	memset(&ss, 0, sizeof ss);
	if (peer)
		TIMED_CALL(t0, t1, ret, err, getpeername(handle_fd(slot), (struct sockaddr *)&ss, &len));
	else
		TIMED_CALL(t0, t1, ret, err, getsockname(handle_fd(slot), (struct sockaddr *)&ss, &len));
	ev_open_h(&e, c, peer ? "getpeername" : "getsockname", slot);
	if (ret == 0) {
		ev_key(&e, "addr");
		ev_addr(&e, (struct sockaddr *)&ss, len);
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/* ---- lifecycle --------------------------------------------------------- */

void op_socket(const cmd_t *c)
{
	unsigned long fam, type, proto = 0, flags = 0;
	int idx = 3;

	if (cmd_new_handle(c, 0) < 0 ||
	    cmd_keyword(c, c->args[1], family_defs, "family", &fam) < 0 ||
	    cmd_keyword(c, c->args[2], type_defs, "socket type", &type) < 0)
		return;
	/* [proto] [flags]: both optional, so a token that is not a protocol
	 * name is taken as the flag set. */
	if (idx < c->nargs) {
		for (const flagdef_t *p = proto_defs; p->name; p++) {
			if (strcmp(p->name, c->args[idx]) == 0) {
				proto = p->value;
				idx++;
				break;
			}
		}
	}
	if (idx < c->nargs &&
	    cmd_flags(c, c->args[idx++], sock_flag_defs, "socket", &flags) < 0)
		return;
	if (idx < c->nargs) {
		cmd_error(c, "unexpected argument '%.64s'", c->args[idx]);
		return;
	}

	int64_t t0, t1;
	int fd, err;
	ev_t e;

	TIMED_CALL(t0, t1, fd, err, socket((int)fam, (int)(type | flags), (int)proto));
	ev_begin(&e, c->step, "socket");
	ev_new_handle(&e, c->args[0], fd);
	ev_result(&e, t0, t1, fd, err);
	ev_end(&e);
}

/* bind and connect share the shape "H <addr>". */
static void addr_call(const cmd_t *c, int is_bind)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int idx = 1;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || cmd_addr(c, &idx, &ss, &len) < 0)
		return;
	if (idx < c->nargs) {
		cmd_error(c, "unexpected argument '%.64s'", c->args[idx]);
		return;
	}

	int64_t t0, t1;
	int ret, err;
	ev_t e;
	int fd = handle_fd(slot);

	if (is_bind)
		TIMED_CALL(t0, t1, ret, err, bind(fd, (struct sockaddr *)&ss, len));
	else
		TIMED_CALL(t0, t1, ret, err, connect(fd, (struct sockaddr *)&ss, len));
	ev_open_h(&e, c, is_bind ? "bind" : "connect", slot);
	ev_key(&e, "addr");
	ev_addr(&e, (struct sockaddr *)&ss, len);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);

	/* Report the address the kernel actually bound (port 0 -> ephemeral). */
	if (is_bind && ret == 0)
		name_call(c, slot, 0);
}

void op_bind(const cmd_t *c)
{
	addr_call(c, 1);
}

void op_connect(const cmd_t *c)
{
	addr_call(c, 0);
}

void op_connect_unspec(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	if (slot < 0)
		return;

	/* AF_UNSPEC dissolves the association (tcp_disconnect for TCP,
	 * __udp_disconnect for UDP). */
	struct sockaddr sa;
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	memset(&sa, 0, sizeof sa);
	sa.sa_family = AF_UNSPEC;
	TIMED_CALL(t0, t1, ret, err, connect(handle_fd(slot), &sa, sizeof sa));
	ev_open_h(&e, c, "connect", slot);
	ev_key(&e, "addr");
	ev_addr(&e, &sa, sizeof sa);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_listen(const cmd_t *c)
{
	long long backlog;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || cmd_int(c, c->args[1], "backlog", -2147483647LL - 1, 2147483647LL, &backlog) < 0)
		return;

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, listen(handle_fd(slot), (int)backlog));
	ev_open_h(&e, c, "listen", slot);
	ev_kint(&e, "backlog", backlog);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_accept4(const cmd_t *c)
{
	unsigned long flags = 0;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || cmd_new_handle(c, 1) < 0)
		return;
	if (c->nargs > 2 && cmd_flags(c, c->args[2], sock_flag_defs, "accept4", &flags) < 0)
		return;

	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int64_t t0, t1;
	int fd, err;
	ev_t e;

	memset(&ss, 0, sizeof ss);
	TIMED_CALL(t0, t1, fd, err, accept4(handle_fd(slot), (struct sockaddr *)&ss, &len, (int)flags));
	ev_open_h(&e, c, "accept4", slot);
	if (fd >= 0) {
		handle_add(c->args[1], fd);
		ev_kstr(&e, "new", c->args[1]);
		ev_key(&e, "addr");
		ev_addr(&e, (struct sockaddr *)&ss, len);
	}
	ev_result(&e, t0, t1, fd, err);
	ev_end(&e);
}

void op_shutdown(const cmd_t *c)
{
	unsigned long how;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || cmd_keyword(c, c->args[1], shut_defs, "shutdown mode", &how) < 0)
		return;

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, shutdown(handle_fd(slot), (int)how));
	ev_open_h(&e, c, "shutdown", slot);
	ev_kstr(&e, "how", how == SHUT_RD ? "SHUT_RD" : how == SHUT_WR ? "SHUT_WR" : "SHUT_RDWR");
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_close(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	if (slot < 0)
		return;

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, close(handle_fd(slot)));
	ev_open_h(&e, c, "close", slot);
	/* On Linux the fd is released even when close() reports an error. */
	handle_forget(slot);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_getsockname(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	if (slot >= 0)
		name_call(c, slot, 0);
}

void op_getpeername(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	if (slot >= 0)
		name_call(c, slot, 1);
}

/* ---- data -------------------------------------------------------------- */

static void send_common(const cmd_t *c, int slot, const char *buf, size_t n, int flags,
			const struct sockaddr_storage *to, socklen_t tolen)
{
	int64_t t0, t1;
	ssize_t ret;
	int err;
	ev_t e;

	if (to)
		TIMED_CALL(t0, t1, ret, err, sendto(handle_fd(slot), buf, n, flags,
						    (const struct sockaddr *)to, tolen));
	else
		TIMED_CALL(t0, t1, ret, err, send(handle_fd(slot), buf, n, flags));
	ev_open_h(&e, c, to ? "sendto" : "send", slot);
	ev_kint(&e, "bytes", (long long)n);
	if (to) {
		ev_key(&e, "addr");
		ev_addr(&e, (const struct sockaddr *)to, tolen);
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_send(const cmd_t *c)
{
	size_t n;
	int flags;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || parse_nbytes(c, c->args[1], &n) < 0 || opt_msg_flags(c, 2, &flags) < 0)
		return;
	char *buf = pattern(n);
	if (!buf) {
		cmd_error(c, "out of memory for %zu bytes", n);
		return;
	}
	send_common(c, slot, buf, n, flags, NULL, 0);
	free(buf);
}

void op_sendstr(const cmd_t *c)
{
	int flags;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || opt_msg_flags(c, 2, &flags) < 0)
		return;
	send_common(c, slot, c->args[1], strlen(c->args[1]), flags, NULL, 0);
}

void op_sendto(const cmd_t *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	size_t n;
	int flags, idx = 2;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || parse_nbytes(c, c->args[1], &n) < 0 || cmd_addr(c, &idx, &ss, &len) < 0)
		return;
	if (opt_msg_flags(c, idx, &flags) < 0)
		return;
	if (idx + 1 < c->nargs) {
		cmd_error(c, "unexpected argument '%.64s'", c->args[idx + 1]);
		return;
	}
	char *buf = pattern(n);
	if (!buf) {
		cmd_error(c, "out of memory for %zu bytes", n);
		return;
	}
	send_common(c, slot, buf, n, flags, &ss, len);
	free(buf);
}

/* Decodes the ancillary data of recvmsg; the error queue (IP_RECVERR,
 * IPV6_RECVERR + MSG_ERRQUEUE) is the interesting case for this kit. */
static void ev_cmsgs(ev_t *e, struct msghdr *msg)
{
	ev_key(e, "cmsg");
	ev_arr_open(e);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		ev_obj_open(e);
		if (cm->cmsg_level == SOL_SOCKET)
			ev_kstr(e, "level", "SOL_SOCKET");
		else if (cm->cmsg_level == SOL_IP)
			ev_kstr(e, "level", "SOL_IP");
		else if (cm->cmsg_level == SOL_IPV6)
			ev_kstr(e, "level", "SOL_IPV6");
		else
			ev_kint(e, "level", cm->cmsg_level);
		ev_kint(e, "type", cm->cmsg_type);
		ev_kint(e, "len", (long long)cm->cmsg_len);
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			ev_kstr(e, "type_name", "SCM_RIGHTS");
			ev_kint(e, "fds", (long long)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int)));
		}
		/* a TX timestamp on the error queue: three timespecs (software, legacy, hardware), not reported */
		if (cm->cmsg_level == SOL_SOCKET && (cm->cmsg_type == 37 || cm->cmsg_type == 65))
			ev_kstr(e, "type_name", "SCM_TIMESTAMPING");
		if (((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
		     (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)) &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct sock_extended_err))) {
			struct sock_extended_err ee;
			char buf[16];

			memcpy(&ee, CMSG_DATA(cm), sizeof ee);
			ev_kstr(e, "type_name", cm->cmsg_level == SOL_IP ? "IP_RECVERR" : "IPV6_RECVERR");
			ev_kstr(e, "ee_errno", ee.ee_errno ? errno_name((int)ee.ee_errno, buf) : "0");
			ev_kint(e, "ee_origin", ee.ee_origin);
			ev_kint(e, "ee_type", ee.ee_type);
			ev_kint(e, "ee_code", ee.ee_code);
			ev_kint(e, "ee_info", ee.ee_info);
			ev_kint(e, "ee_data", ee.ee_data);
		}
		ev_obj_close(e);
	}
	ev_arr_close(e);
}

/* SCM_RIGHTS descriptors that arrived with a recvmsg: the first becomes
 * handle newname (when given); every other one is closed, never leaked into
 * the probe. Returns the number closed. */
static int take_fds(struct msghdr *msg, const char *newname, int *taken)
{
	int closed = 0;

	*taken = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			if (newname && !*taken && handle_add(newname, fd) >= 0)
				*taken = 1;
			else {
				close(fd);
				closed++;
			}
		}
	}
	return closed;
}

/* kind: 0 recv, 1 recvfrom, 2 recvmsg; newname: recvmsg only, the handle
 * an SCM_RIGHTS descriptor becomes (recvfd). */
static void recv_into(const cmd_t *c, int kind, int slot, size_t n, int flags, const char *newname)
{
	static const char *const opname[] = { "recv", "recvfrom", "recvmsg" };
	/* Zeroed: with MSG_TRUNC on TCP the kernel discards without copying, so
	 * reported data is NULs rather than stale memory. */
	char *buf = calloc(1, n ? n : 1);
	if (!buf) {
		cmd_error(c, "out of memory for %zu bytes", n);
		return;
	}

	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	union {
		char buf[512];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = n };
	struct msghdr msg = {
		.msg_name = &ss, .msg_namelen = sizeof ss,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	int64_t t0, t1;
	ssize_t ret;
	int err;
	ev_t e;
	int fd = handle_fd(slot);

	memset(&ss, 0, sizeof ss);
	memset(&ctl, 0, sizeof ctl);
	if (kind == 0)
		TIMED_CALL(t0, t1, ret, err, recv(fd, buf, n, flags));
	else if (kind == 1)
		TIMED_CALL(t0, t1, ret, err, recvfrom(fd, buf, n, flags, (struct sockaddr *)&ss, &len));
	else
		TIMED_CALL(t0, t1, ret, err, recvmsg(fd, &msg, flags));

	ev_open_h(&e, c, opname[kind], slot);
	ev_kint(&e, "bytes", (long long)n);
	if (ret >= 0) {
		/* With MSG_TRUNC, ret may exceed the buffer (datagram length). */
		ev_kdata(&e, buf, (size_t)ret < n ? (size_t)ret : n);
		if (kind == 1 && len > 0) {
			ev_key(&e, "addr");
			ev_addr(&e, (struct sockaddr *)&ss, len);
		}
		if (kind == 2) {
			if (msg.msg_namelen > 0) {
				ev_key(&e, "addr");
				ev_addr(&e, (struct sockaddr *)&ss, msg.msg_namelen);
			}
			ev_key(&e, "msg_flags");
			ev_flags(&e, (unsigned)msg.msg_flags, msg_flag_names);
			ev_cmsgs(&e, &msg);
			int taken;
			int closed = take_fds(&msg, newname, &taken);
			if (taken)
				ev_kstr(&e, "new", newname);
			if (closed)
				ev_kint(&e, "closed_fds", closed);
		}
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
	free(buf);
}

static void recv_common(const cmd_t *c, int kind)
{
	size_t n;
	int flags;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || parse_nbytes(c, c->args[1], &n) < 0 || opt_msg_flags(c, 2, &flags) < 0)
		return;
	recv_into(c, kind, slot, n, flags, NULL);
}

void op_recv(const cmd_t *c)
{
	recv_common(c, 0);
}

void op_recvfrom(const cmd_t *c)
{
	recv_common(c, 1);
}

void op_recvmsg(const cmd_t *c)
{
	recv_common(c, 2);
}

/* ---- SCM_RIGHTS: one socket handed to another process -------------------- */

/* sendfd H FDH [flags]: sendmsg() of one byte ('F') carrying FDH's fd as
 * SCM_RIGHTS, so a second actor can hold the same open file (a listener
 * shared by two processes, the classic pre-fork server). */
void op_sendfd(const cmd_t *c)
{
	int flags;
	int slot = cmd_handle(c, 0);
	int pass = slot < 0 ? -1 : cmd_handle(c, 1);

	if (pass < 0 || opt_msg_flags(c, 2, &flags) < 0)
		return;

	char byte = 'F';
	int fd = handle_fd(pass);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	memset(&ctl, 0, sizeof ctl);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);

	int64_t t0, t1;
	ssize_t ret;
	int err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, sendmsg(handle_fd(slot), &msg, flags));
	ev_open_h(&e, c, "sendmsg", slot);
	ev_kint(&e, "bytes", 1);
	ev_key(&e, "pass");
	ev_arr_open(&e);
	ev_str(&e, handle_name(pass));
	ev_arr_close(&e);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/* recvfd H NEW [flags]: recvmsg() of one byte; the SCM_RIGHTS descriptor
 * that arrives with it becomes handle NEW (any more are closed). */
void op_recvfd(const cmd_t *c)
{
	int flags;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || cmd_new_handle(c, 1) < 0 || opt_msg_flags(c, 2, &flags) < 0)
		return;
	recv_into(c, 2, slot, 1, flags, c->args[1]);
}

/* ---- fcntl, sleep ------------------------------------------------------ */

static long fcntl_call(const cmd_t *c, int slot, int cmd, long arg)
{
	int64_t t0, t1;
	long ret;
	int err;
	ev_t e;

	if (cmd == F_GETFL)
		TIMED_CALL(t0, t1, ret, err, fcntl(handle_fd(slot), F_GETFL));
	else
		TIMED_CALL(t0, t1, ret, err, fcntl(handle_fd(slot), F_SETFL, arg));
	ev_open_h(&e, c, "fcntl", slot);
	ev_kstr(&e, "cmd", cmd == F_GETFL ? "F_GETFL" : "F_SETFL");
	if (cmd == F_GETFL && ret >= 0)
		ev_o_flags(&e, ret, 1);
	else if (cmd == F_SETFL)
		ev_o_flags(&e, arg, 0);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
	return ret;
}

void op_fcntl(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	if (slot < 0)
		return;
	const char *sub = c->args[1];

	if (strcmp(sub, "getfl") == 0) {
		if (c->nargs != 2) {
			cmd_error(c, "usage: fcntl H getfl");
			return;
		}
		fcntl_call(c, slot, F_GETFL, 0);
	} else if (strcmp(sub, "setfl") == 0) {
		unsigned long fl;

		if (c->nargs != 3) {
			cmd_error(c, "usage: fcntl H setfl <flags>");
			return;
		}
		if (cmd_flags(c, c->args[2], setfl_defs, "file status", &fl) < 0)
			return;
		fcntl_call(c, slot, F_SETFL, (long)fl);
	} else if (strcmp(sub, "nonblock") == 0) {
		long long on;

		if (c->nargs != 3) {
			cmd_error(c, "usage: fcntl H nonblock <0|1>");
			return;
		}
		if (cmd_int(c, c->args[2], "nonblock value", 0, 1, &on) < 0)
			return;
		/* Read-modify-write; both syscalls are reported. */
		long fl = fcntl_call(c, slot, F_GETFL, 0);
		if (fl >= 0)
			fcntl_call(c, slot, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~(long)O_NONBLOCK));
	} else {
		cmd_error(c, "unknown fcntl command '%.32s' (getfl|setfl|nonblock)", sub);
	}
}

void op_sleep(const cmd_t *c)
{
	long long ms;

	if (cmd_int(c, c->args[0], "milliseconds", 0, 86400000LL, &ms) < 0)
		return;

	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, nanosleep(&ts, NULL));
	ev_begin(&e, c->step, "sleep");
	ev_kint(&e, "ms", ms);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/*
 * take_sigpipe: sigtimedwait() for SIGPIPE with a zero timeout. main() keeps
 * SIGPIPE ignored and blocked: a blocked signal is never discarded as ignored
 * (sig_ignored, kernel/signal.c), so one raised by send() (sk_stream_error)
 * stays pending until this takes it. ret 13 when one was pending (a standard
 * signal is pending at most once), else -1 EAGAIN.
 */
void op_take_sigpipe(const cmd_t *c)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	TIMED_CALL(t0, t1, ret, err, sigtimedwait(&set, NULL, &zero));
	ev_begin(&e, c->step, "sigtimedwait");
	ev_kstr(&e, "signal", "SIGPIPE");
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/*
 * netns NAME: setns() into the network namespace /run/netns/NAME (as made by
 * `ip netns add`), or into PATH when the argument starts with '/'. Sockets
 * made afterwards live there; handles that exist keep their namespace. Used
 * where the probe cannot be started inside the namespace (a vm guest's
 * probes are started by its init). Event: op "setns" with "netns"; the
 * open() that precedes it is reported only when it fails (op "open").
 */
void op_netns(const cmd_t *c)
{
	const char *name = c->args[0];
	char path[256];

	if (name[0] == '/')
		snprintf(path, sizeof path, "%s", name);
	else if (strchr(name, '/') || strlen(name) > 200) {
		cmd_error(c, "bad namespace name '%.40s'", name);
		return;
	} else
		snprintf(path, sizeof path, "/run/netns/%s", name);

	int64_t t0, t1;
	int fd, ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, fd, err, open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0) {
		ev_begin(&e, c->step, "open");
		ev_kstr(&e, "path", path);
		ev_result(&e, t0, t1, fd, err);
		ev_end(&e);
		return;
	}
	TIMED_CALL(t0, t1, ret, err, setns(fd, CLONE_NEWNET));
	close(fd);
	ev_begin(&e, c->step, "setns");
	ev_kstr(&e, "netns", name);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

/*
 * Test hook: the harness must turn a crashing helper into an `error` verdict
 * with its stderr kept, so the real helper can be asked to crash for real.
 */
void op_abort(const cmd_t *c)
{
	fprintf(stderr, "sockspec-probe: abort requested by step %s\n", c->step);
	fflush(stderr);
	abort();
}

/*
 * ioctl H REQUEST: an int-valued ioctl (SIOCINQ, SIOCOUTQ; EPIOCGPARAMS on an
 * epoll fd writes 8 bytes, busy_poll_usecs first, hence the room). Event op
 * "ioctl" with "request" and, on success, "value". TCP answers in
 * tcp_ioctl (net/ipv4/tcp.c: EINVAL on a listener), unix sockets in
 * unix_ioctl (net/unix/af_unix.c).
 */
void op_ioctl(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	unsigned long req;

	if (slot < 0 || cmd_keyword(c, c->args[1], ioctl_defs, "ioctl request", &req) < 0)
		return;

	int64_t t0, t1;
	int ret, err;
	union {
		int i;
		unsigned char room[16];
	} v;
	ev_t e;

	memset(&v, 0, sizeof v);
	TIMED_CALL(t0, t1, ret, err, ioctl(handle_fd(slot), req, &v));
	ev_open_h(&e, c, "ioctl", slot);
	ev_kstr(&e, "request", c->args[1]);
	if (ret == 0)
		ev_kint(&e, "value", v.i);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}
