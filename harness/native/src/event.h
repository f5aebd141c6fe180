/*
 * event.h - JSON line writer for probe events (see PROTOCOL.md, "Event line").
 *
 * An event is built in a growable buffer with a tiny streaming JSON writer
 * (the writer tracks where commas go) and written to stdout in one write()
 * per line, so the runner never sees a partial line from a live probe.
 */
#ifndef SOCKSPEC_EVENT_H
#define SOCKSPEC_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
	char *buf;
	size_t len, cap;
	int first;      /* next value is the first in its object/array */
	int after_key;  /* a key was just written, the value needs no comma */
} ev_t;

/* Name of one bit in a flag table; tables are terminated by {0, NULL}. */
typedef struct {
	unsigned long bit;
	const char *name;
} flagname_t;

extern const flagname_t epoll_flag_names[];
extern const flagname_t poll_flag_names[];
extern const flagname_t msg_flag_names[];

int64_t mono_ns(void);

/* "EINPROGRESS", or "E123" for numbers without a macro (buf >= 16 bytes). */
const char *errno_name(int err, char *buf);

/* Starts an event: {"seq":N,"step":...,"op":... (step omitted when NULL). */
void ev_begin(ev_t *e, const char *step, const char *op);
/* Writes the line (adds "}\n") and frees the buffer. */
void ev_end(ev_t *e);

/* Low-level writer: a key, then exactly one value (scalar or container). */
void ev_key(ev_t *e, const char *key);
void ev_int(ev_t *e, long long v);
void ev_uint(ev_t *e, unsigned long long v);
void ev_bool(ev_t *e, int v);
void ev_str(ev_t *e, const char *s);
void ev_bytes(ev_t *e, const void *p, size_t n); /* string from raw bytes */
/* Received bytes as "data": at most EV_DATA_MAX of them, the rest counted in "data_more". */
#define EV_DATA_MAX 4096
void ev_kdata(ev_t *e, const void *p, size_t n);
void ev_obj_open(ev_t *e);
void ev_obj_close(ev_t *e);
void ev_arr_open(ev_t *e);
void ev_arr_close(ev_t *e);
/* Array of names for the set bits of mask; unnamed bits as "BIT<n>". */
void ev_flags(ev_t *e, unsigned long mask, const flagname_t *tab);
/* The same names as items of an array the caller opened. */
void ev_flag_items(ev_t *e, unsigned long mask, const flagname_t *tab);
/* {"family":"inet","addr":"127.0.0.1","port":4242} / {"family":"unix","path":..};
 * "unspec" for AF_UNSPEC or an empty address, "other" for other families. */
void ev_addr(ev_t *e, const struct sockaddr *sa, socklen_t len);

/* Keyed shortcuts. */
void ev_kint(ev_t *e, const char *key, long long v);
void ev_kuint(ev_t *e, const char *key, unsigned long long v);
void ev_kstr(ev_t *e, const char *key, const char *s);

/* Common result fields: t0, t1, ret and, when ret < 0, errno. */
void ev_result(ev_t *e, int64_t t0, int64_t t1, long long ret, int err);

/* ev_batch(1): ev_end only queues lines; ev_done (or ev_flush) writes the
 * queue in one write, so a command's answer is one write. ev_batch(0)
 * flushes and writes every line at once again. */
void ev_batch(int on);
void ev_flush(void);

/* Events written so far (= the next seq); a command's event count is the
 * difference before/after it. */
unsigned long long ev_count(void);
/* Completion frame after every command: {"done":"<step>","events":N}. */
void ev_done(const char *step, unsigned long long events);
/* The next event is seq 1 again, as after a fresh probe's hello (reset). */
void ev_seq_restart(void);

/* One complete probe-level error event (no syscall made, no "ret"). */
void ev_error(const char *step, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Protocol version announced in the hello event (PROTOCOL.md). */
#define PROTOCOL_VERSION 1

/* The hello event; ifnames != NULL adds "capture": [...] (capture mode). */
void ev_hello(int nif, char **ifnames);

#endif
