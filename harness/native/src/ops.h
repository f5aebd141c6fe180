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
#include "handles.h"

/* Runs expr with CLOCK_MONOTONIC stamps tightly around it; errno is saved
 * before the second clock read. */
#define TIMED_CALL(t0, t1, ret, err, expr) do {  \
		(t0) = mono_ns();                \
		(ret) = (expr);                  \
		(err) = (ret) < 0 ? errno : 0;   \
		(t1) = mono_ns();                \
	} while (0)

/* A call that made a descriptor: name it and report the name as `new` (ret < 0: nothing to name). */
static inline void ev_new_handle(ev_t *e, const char *name, int fd)
{
	if (fd < 0)
		return;
	handle_add(name, fd);
	ev_kstr(e, "new", name);
}

/* Message flags shared by send/recv family (sockets.c). */
extern const flagdef_t msg_flag_defs[];

/* Handler prototypes, dispatch and name tables: generated from the op
 * table (harness/ops/, npm run gen). */
#include "optable.gen.h"

/* Per-module state a reset must drop with the handles (a reused probe
 * starts as a fresh one): mib marks, io_uring rings and their tags. */
void mib_reset(void);
void uring_reset(void);

#endif
