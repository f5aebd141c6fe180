/*
 * ops.h - command handlers, dispatched from main.c.
 *
 * Each handler receives a parsed command whose positional argument count
 * is already checked against the dispatch table, makes its syscall(s) and
 * emits one event per syscall (or one error event and no syscall).
 */
#ifndef SOCKSPEC_OPS_H
#define SOCKSPEC_OPS_H

#include "command.h"
#include "event.h"

/* Runs expr with CLOCK_MONOTONIC stamps tightly around it; errno is saved
 * before the second clock read. */
#define TIMED_CALL(t0, t1, ret, err, expr) do {  \
		(t0) = mono_ns();                \
		(ret) = (expr);                  \
		(err) = (ret) < 0 ? errno : 0;   \
		(t1) = mono_ns();                \
	} while (0)

/* Message flags shared by send/recv family (sockets.c). */
extern const flagdef_t msg_flag_defs[];

/* sockets.c */
void op_socket(const cmd_t *c);
void op_bind(const cmd_t *c);
void op_listen(const cmd_t *c);
void op_connect(const cmd_t *c);
void op_connect_unspec(const cmd_t *c);
void op_accept4(const cmd_t *c);
void op_send(const cmd_t *c);
void op_sendstr(const cmd_t *c);
void op_sendto(const cmd_t *c);
void op_recv(const cmd_t *c);
void op_recvfrom(const cmd_t *c);
void op_recvmsg(const cmd_t *c);
void op_sendfd(const cmd_t *c);
void op_recvfd(const cmd_t *c);
void op_shutdown(const cmd_t *c);
void op_close(const cmd_t *c);
void op_fcntl(const cmd_t *c);
void op_getsockname(const cmd_t *c);
void op_getpeername(const cmd_t *c);
void op_sleep(const cmd_t *c);
void op_netns(const cmd_t *c);
void op_capture(const cmd_t *c);
void op_abort(const cmd_t *c);

/* options.c */
void op_setsockopt(const cmd_t *c);
void op_getsockopt(const cmd_t *c);

/* epoll.c */
void op_epoll_create1(const cmd_t *c);
void op_epoll_ctl(const cmd_t *c);
void op_epoll_wait(const cmd_t *c);
void op_poll(const cmd_t *c);

/* gates.c */
void op_gate(const cmd_t *c);
void op_ungate(const cmd_t *c);

#endif
