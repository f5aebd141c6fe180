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

/* Handler prototypes, dispatch and name tables: generated from the op
 * table (harness/ops/, npm run gen). */
#include "optable.gen.h"

#endif
