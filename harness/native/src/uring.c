/*
 * uring.c - the io_uring ops: setup, one SQE per command (poll add,
 * connect, accept, recv, async cancel, poll remove) and waiting for a
 * completion.
 *
 * Raw syscalls and the mmap'd rings (io_uring_setup(2), io_uring_enter(2)),
 * no liburing: the probe stays libc-only and links statically for guests.
 *
 * user_data is a tag named by the scenario (P, A1, ...). A CQE is reported
 * when a `uring_wait` asks for its tag (or for any); CQEs of other tags
 * reaped meanwhile wait in a small queue of the ring, in kernel order.
 *
 * State besides the handle table: the rings (mappings, tags, that queue).
 * A ring is found by its handle's token, so a closed and re-created name
 * never reaches the old mappings.
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RINGS_MAX  8
#define TAGS_MAX   64
#define QUEUE_MAX  256
#define WAIT_ROUNDS_MAX 100000 /* bound on the wait loop, whatever the kernel does */

struct tag {
	char name[HANDLE_NAME_MAX + 1]; /* "" = free */
	uint8_t opcode;
	uint32_t gen;
	int fd_slot;                    /* the handle the SQE targets (poll: `ready` names it) */
	uint64_t fd_token;
	char newname[HANDLE_NAME_MAX + 1]; /* accept: the handle of the first accepted socket */
	int accepted;
	char *buf;                      /* recv: the buffer, kept until the CQE */
	size_t buflen;
	struct sockaddr_storage addr;   /* connect: kept until the CQE (the kernel may read it late) */
	int done;                       /* its last CQE (no F_MORE) was reported */
};

struct ring {
	int used;
	uint64_t token;
	int fd;
	void *sq_ptr, *cq_ptr;
	size_t sq_sz, cq_sz;
	struct io_uring_sqe *sqes;
	size_t sqes_sz;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
	struct tag tags[TAGS_MAX];
	struct io_uring_cqe queue[QUEUE_MAX];
	int nqueue;
};

static struct ring rings[RINGS_MAX];

static const flagdef_t epoll_defs[] = { OPTABLE_EPOLL_EVENTS(FLAGDEF_) { NULL, 0 } };

/* Feature bits newer than some build hosts' <linux/io_uring.h> (uapi values). */
#ifndef IORING_FEAT_REG_REG_RING
#define IORING_FEAT_REG_REG_RING (1U << 13)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#ifndef IORING_FEAT_RW_ATTR
#define IORING_FEAT_RW_ATTR (1U << 16)
#endif
#ifndef IORING_FEAT_NO_IOWAIT
#define IORING_FEAT_NO_IOWAIT (1U << 17)
#endif

static const flagname_t feat_names[] = {
	{ IORING_FEAT_SINGLE_MMAP, "IORING_FEAT_SINGLE_MMAP" },
	{ IORING_FEAT_NODROP, "IORING_FEAT_NODROP" },
	{ IORING_FEAT_SUBMIT_STABLE, "IORING_FEAT_SUBMIT_STABLE" },
	{ IORING_FEAT_RW_CUR_POS, "IORING_FEAT_RW_CUR_POS" },
	{ IORING_FEAT_CUR_PERSONALITY, "IORING_FEAT_CUR_PERSONALITY" },
	{ IORING_FEAT_FAST_POLL, "IORING_FEAT_FAST_POLL" },
	{ IORING_FEAT_POLL_32BITS, "IORING_FEAT_POLL_32BITS" },
	{ IORING_FEAT_SQPOLL_NONFIXED, "IORING_FEAT_SQPOLL_NONFIXED" },
	{ IORING_FEAT_EXT_ARG, "IORING_FEAT_EXT_ARG" },
	{ IORING_FEAT_NATIVE_WORKERS, "IORING_FEAT_NATIVE_WORKERS" },
	{ IORING_FEAT_RSRC_TAGS, "IORING_FEAT_RSRC_TAGS" },
	{ IORING_FEAT_CQE_SKIP, "IORING_FEAT_CQE_SKIP" },
	{ IORING_FEAT_LINKED_FILE, "IORING_FEAT_LINKED_FILE" },
	{ IORING_FEAT_REG_REG_RING, "IORING_FEAT_REG_REG_RING" },
	{ IORING_FEAT_RECVSEND_BUNDLE, "IORING_FEAT_RECVSEND_BUNDLE" },
	{ IORING_FEAT_MIN_TIMEOUT, "IORING_FEAT_MIN_TIMEOUT" },
	{ IORING_FEAT_RW_ATTR, "IORING_FEAT_RW_ATTR" },
	{ IORING_FEAT_NO_IOWAIT, "IORING_FEAT_NO_IOWAIT" },
	{ 0, NULL }
};

static const flagname_t cqe_flag_names[] = {
	{ IORING_CQE_F_BUFFER, "IORING_CQE_F_BUFFER" },
	{ IORING_CQE_F_MORE, "IORING_CQE_F_MORE" },
	{ IORING_CQE_F_SOCK_NONEMPTY, "IORING_CQE_F_SOCK_NONEMPTY" },
	{ IORING_CQE_F_NOTIF, "IORING_CQE_F_NOTIF" },
	{ 0, NULL }
};

static const char *opcode_name(unsigned op)
{
	switch (op) {
	case IORING_OP_POLL_ADD: return "IORING_OP_POLL_ADD";
	case IORING_OP_POLL_REMOVE: return "IORING_OP_POLL_REMOVE";
	case IORING_OP_CONNECT: return "IORING_OP_CONNECT";
	case IORING_OP_ACCEPT: return "IORING_OP_ACCEPT";
	case IORING_OP_RECV: return "IORING_OP_RECV";
	case IORING_OP_ASYNC_CANCEL: return "IORING_OP_ASYNC_CANCEL";
	default: return "IORING_OP_?";
	}
}

static void ring_unmap(struct ring *r)
{
	if (r->sqes)
		munmap(r->sqes, r->sqes_sz);
	if (r->cq_ptr && r->cq_ptr != r->sq_ptr)
		munmap(r->cq_ptr, r->cq_sz);
	if (r->sq_ptr)
		munmap(r->sq_ptr, r->sq_sz);
	for (int i = 0; i < TAGS_MAX; i++)
		free(r->tags[i].buf);
	memset(r, 0, sizeof *r);
}

/* Every ring unmapped and forgotten: after a reset the handles are closed
 * and tokens restart, so a kept entry could answer for a new handle. */
void uring_reset(void)
{
	for (int i = 0; i < RINGS_MAX; i++)
		if (rings[i].used)
			ring_unmap(&rings[i]);
}

/* The ring behind handle args[idx], or NULL (error event sent). */
static struct ring *cmd_ring(const cmd_t *c, int idx)
{
	int slot = cmd_handle(c, idx);

	if (slot < 0)
		return NULL;
	for (int i = 0; i < RINGS_MAX; i++)
		if (rings[i].used && rings[i].token == handle_token(slot))
			return &rings[i];
	cmd_error(c, "handle '%s' is not an io_uring", handle_name(slot));
	return NULL;
}

static struct tag *tag_find(struct ring *r, const char *name)
{
	for (int i = 0; i < TAGS_MAX; i++)
		if (r->tags[i].name[0] && strcmp(r->tags[i].name, name) == 0)
			return &r->tags[i];
	return NULL;
}

static uint64_t tag_user_data(struct ring *r, const struct tag *t)
{
	return ((uint64_t)t->gen << 32) | (uint64_t)(t - r->tags + 1);
}

static struct tag *tag_of(struct ring *r, uint64_t ud)
{
	uint32_t i = (uint32_t)ud;

	if (i < 1 || i > TAGS_MAX || r->tags[i - 1].gen != (uint32_t)(ud >> 32) || !r->tags[i - 1].name[0])
		return NULL;
	return &r->tags[i - 1];
}

/* A tag for a new SQE: its name free or its last CQE reported. */
static struct tag *tag_new(const cmd_t *c, struct ring *r, const char *name, uint8_t opcode)
{
	if (!handle_name_ok(name)) {
		cmd_error(c, "bad user_data name '%.40s'", name);
		return NULL;
	}
	struct tag *t = tag_find(r, name);
	if (t && !t->done) {
		cmd_error(c, "user_data '%s' is still in flight", name);
		return NULL;
	}
	if (!t)
		for (int i = 0; i < TAGS_MAX && !t; i++)
			if (!r->tags[i].name[0])
				t = &r->tags[i];
	if (!t) {
		cmd_error(c, "too many user_data names (max %d)", TAGS_MAX);
		return NULL;
	}
	uint32_t gen = t->gen + 1;
	free(t->buf);
	memset(t, 0, sizeof *t);
	t->gen = gen;
	t->fd_slot = -1;
	t->opcode = opcode;
	strcpy(t->name, name);
	return t;
}

/* Queues one SQE and submits it: the event is io_uring_enter's answer. */
static void submit(const cmd_t *c, struct ring *r, struct tag *t, struct io_uring_sqe *sqe, const char *ring_name)
{
	unsigned tail = *r->sq_tail;
	unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);

	if (tail - head >= *r->sq_mask + 1) {
		cmd_error(c, "submission queue full");
		t->name[0] = '\0';
		return;
	}
	unsigned idx = tail & *r->sq_mask;

	sqe->user_data = tag_user_data(r, t);
	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);

	int64_t t0, t1;
	long ret;
	int err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0));
	ev_begin(&e, c->step, "io_uring_enter");
	ev_kstr(&e, "h", ring_name);
	ev_kstr(&e, "sqe", opcode_name(sqe->opcode));
	if (t->fd_slot >= 0)
		ev_kstr(&e, "target", handle_name(t->fd_slot));
	ev_kstr(&e, "user_data", t->name);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
	/* Not taken by the kernel: the tag never gets a CQE. */
	if (ret != 1) {
		__atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
		t->done = 1;
	}
}

/* uring_setup R <entries> */
void op_uring_setup(const cmd_t *c)
{
	long long entries;

	if (cmd_new_handle(c, 0) < 0 || cmd_int(c, c->args[1], "entries", 1, 4096, &entries) < 0)
		return;
	struct ring *r = NULL;
	for (int i = 0; i < RINGS_MAX && !r; i++) {
		/* a ring whose handle was closed is unmapped and its slot reused */
		if (rings[i].used && handle_from_token(rings[i].token) < 0)
			ring_unmap(&rings[i]);
		if (!rings[i].used)
			r = &rings[i];
	}
	if (!r) {
		cmd_error(c, "too many io_urings (max %d)", RINGS_MAX);
		return;
	}

	struct io_uring_params p;
	int64_t t0, t1;
	long fd;
	int err;
	ev_t e;

	memset(&p, 0, sizeof p);
	TIMED_CALL(t0, t1, fd, err, syscall(__NR_io_uring_setup, (unsigned)entries, &p));
	ev_begin(&e, c->step, "io_uring_setup");
	ev_new_handle(&e, c->args[0], (int)fd);
	ev_kint(&e, "entries", entries);
	if (fd >= 0) {
		ev_kint(&e, "sq_entries", p.sq_entries);
		ev_kint(&e, "cq_entries", p.cq_entries);
		ev_key(&e, "features");
		ev_flags(&e, p.features, feat_names);
	}
	ev_result(&e, t0, t1, fd, err);
	ev_end(&e);
	if (fd < 0)
		return;

	int slot = handle_find(c->args[0]);
	r->fd = (int)fd;
	r->token = handle_token(slot);
	r->sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_sz > r->sq_sz)
			r->sq_sz = r->cq_sz;
		r->cq_sz = r->sq_sz;
	}
	r->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
	/* The mappings are part of setting the ring up; a failure is reported as mmap's. */
	void *sq = mmap(NULL, r->sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	void *cq = sq;
	if (sq != MAP_FAILED && !(p.features & IORING_FEAT_SINGLE_MMAP))
		cq = mmap(NULL, r->cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	void *sqes = cq == MAP_FAILED || sq == MAP_FAILED ? MAP_FAILED :
		mmap(NULL, r->sqes_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sqes == MAP_FAILED) {
		int merr = errno;

		if (cq != MAP_FAILED && cq != sq)
			munmap(cq, r->cq_sz);
		if (sq != MAP_FAILED)
			munmap(sq, r->sq_sz);
		ev_begin(&e, c->step, "mmap");
		ev_kstr(&e, "h", c->args[0]);
		ev_result(&e, mono_ns(), mono_ns(), -1, merr);
		ev_end(&e);
		memset(r, 0, sizeof *r);
		return;
	}
	r->used = 1;
	r->sq_ptr = sq;
	r->cq_ptr = cq;
	r->sqes = sqes;
	r->sq_head = (unsigned *)((char *)sq + p.sq_off.head);
	r->sq_tail = (unsigned *)((char *)sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)((char *)sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)((char *)sq + p.sq_off.array);
	r->cq_head = (unsigned *)((char *)cq + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)((char *)cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);
}

/* A multishot flag: "0" or "multishot". */
static int cmd_multishot(const cmd_t *c, const char *tok, int *out)
{
	if (strcmp(tok, "0") == 0 || strcmp(tok, "multishot") == 0) {
		*out = tok[0] == 'm';
		return 0;
	}
	cmd_error(c, "expected 0 or multishot, got '%.40s'", tok);
	return -1;
}

/* uring_poll_add R H <events> <0|multishot> <ud> */
void op_uring_poll_add(const cmd_t *c)
{
	struct ring *r = cmd_ring(c, 0);
	unsigned long events;
	int multi;

	if (!r)
		return;
	int slot = cmd_handle(c, 1);
	if (slot < 0 || cmd_flags(c, c->args[2], epoll_defs, "poll", &events) < 0 ||
	    cmd_multishot(c, c->args[3], &multi) < 0)
		return;
	struct tag *t = tag_new(c, r, c->args[4], IORING_OP_POLL_ADD);
	if (!t)
		return;
	t->fd_slot = slot;
	t->fd_token = handle_token(slot);

	struct io_uring_sqe sqe;
	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = IORING_OP_POLL_ADD;
	sqe.fd = handle_fd(slot);
	/* the same bits as epoll_ctl's events (io_poll_parse_events) */
	sqe.poll32_events = (uint32_t)events;
	/* before 5.13 a non-zero len is refused with -EINVAL in the CQE */
	sqe.len = multi ? IORING_POLL_ADD_MULTI : 0;
	submit(c, r, t, &sqe, c->args[0]);
}

/* uring_connect R H <ud> <addr> */
void op_uring_connect(const cmd_t *c)
{
	struct ring *r = cmd_ring(c, 0);
	struct sockaddr_storage ss;
	socklen_t len;
	int idx = 3;

	if (!r)
		return;
	int slot = cmd_handle(c, 1);
	if (slot < 0 || cmd_addr(c, &idx, &ss, &len) < 0)
		return;
	if (idx < c->nargs) {
		cmd_error(c, "unexpected argument '%.64s'", c->args[idx]);
		return;
	}
	struct tag *t = tag_new(c, r, c->args[2], IORING_OP_CONNECT);
	if (!t)
		return;
	t->fd_slot = slot;
	t->fd_token = handle_token(slot);
	t->addr = ss;

	struct io_uring_sqe sqe;
	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = IORING_OP_CONNECT;
	sqe.fd = handle_fd(slot);
	sqe.addr = (uint64_t)(uintptr_t)&t->addr;
	sqe.off = len;
	submit(c, r, t, &sqe, c->args[0]);
}

/* uring_accept R H NEW <0|multishot> <ud> */
void op_uring_accept(const cmd_t *c)
{
	struct ring *r = cmd_ring(c, 0);
	int multi;

	if (!r)
		return;
	int slot = cmd_handle(c, 1);
	if (slot < 0 || cmd_new_handle(c, 2) < 0 || cmd_multishot(c, c->args[3], &multi) < 0)
		return;
	struct tag *t = tag_new(c, r, c->args[4], IORING_OP_ACCEPT);
	if (!t)
		return;
	t->fd_slot = slot;
	t->fd_token = handle_token(slot);
	strcpy(t->newname, c->args[2]);

	struct io_uring_sqe sqe;
	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = IORING_OP_ACCEPT;
	sqe.fd = handle_fd(slot);
	/* multishot accept is 5.19; before, a non-zero ioprio is -EINVAL */
	sqe.ioprio = multi ? IORING_ACCEPT_MULTISHOT : 0;
	submit(c, r, t, &sqe, c->args[0]);
}

/* uring_recv R H <bytes> <ud> */
void op_uring_recv(const cmd_t *c)
{
	struct ring *r = cmd_ring(c, 0);
	long long n;

	if (!r)
		return;
	int slot = cmd_handle(c, 1);
	if (slot < 0 || cmd_int(c, c->args[2], "bytes", 0, 1 << 20, &n) < 0)
		return;
	struct tag *t = tag_new(c, r, c->args[3], IORING_OP_RECV);
	if (!t)
		return;
	t->fd_slot = slot;
	t->fd_token = handle_token(slot);
	t->buflen = (size_t)n;
	t->buf = calloc(1, n ? (size_t)n : 1);
	if (!t->buf) {
		t->name[0] = '\0';
		cmd_error(c, "out of memory for %lld bytes", n);
		return;
	}

	struct io_uring_sqe sqe;
	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = IORING_OP_RECV;
	sqe.fd = handle_fd(slot);
	sqe.addr = (uint64_t)(uintptr_t)t->buf;
	sqe.len = (uint32_t)n;
	submit(c, r, t, &sqe, c->args[0]);
}

/* uring_cancel R <target ud> <ud> and uring_poll_remove: the same shape, two opcodes. */
static void cancel_family(const cmd_t *c, uint8_t opcode)
{
	struct ring *r = cmd_ring(c, 0);

	if (!r)
		return;
	struct tag *target = tag_find(r, c->args[1]);
	if (!target) {
		cmd_error(c, "no user_data named '%.40s' on this ring", c->args[1]);
		return;
	}
	uint64_t target_ud = tag_user_data(r, target);
	struct tag *t = tag_new(c, r, c->args[2], opcode);
	if (!t)
		return;

	struct io_uring_sqe sqe;
	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = opcode;
	sqe.fd = -1;
	sqe.addr = target_ud;
	submit(c, r, t, &sqe, c->args[0]);
}

void op_uring_cancel(const cmd_t *c)
{
	cancel_family(c, IORING_OP_ASYNC_CANCEL);
}

void op_uring_poll_remove(const cmd_t *c)
{
	cancel_family(c, IORING_OP_POLL_REMOVE);
}

/* Moves every CQE in the ring to the ring's queue (kernel order); 0, or -1 when the queue is full. */
static int reap(struct ring *r)
{
	unsigned head = *r->cq_head;
	unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
	int full = 0;

	while (head != tail) {
		if (r->nqueue >= QUEUE_MAX) {
			full = 1;
			break;
		}
		r->queue[r->nqueue++] = r->cqes[head & *r->cq_mask];
		head++;
	}
	__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
	return full ? -1 : 0;
}

/* Index in the queue of the first CQE of tag `want` (NULL: any), or -1. */
static int queued(struct ring *r, const struct tag *want)
{
	for (int i = 0; i < r->nqueue; i++)
		if (!want || tag_of(r, r->queue[i].user_data) == want)
			return i;
	return -1;
}

static void report_cqe(const cmd_t *c, struct ring *r, const struct io_uring_cqe *cqe, int64_t t0, int64_t t1)
{
	struct tag *t = tag_of(r, cqe->user_data);
	int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
	ev_t e;

	ev_begin(&e, c->step, "io_uring_cqe");
	ev_kstr(&e, "h", c->args[0]);
	if (t) {
		ev_kstr(&e, "user_data", t->name);
		ev_kstr(&e, "sqe", opcode_name(t->opcode));
	} else {
		char tmp[32];

		snprintf(tmp, sizeof tmp, "#%llu", (unsigned long long)cqe->user_data);
		ev_kstr(&e, "user_data", tmp);
	}
	ev_kint(&e, "res", cqe->res);
	ev_key(&e, "cqe_flags");
	ev_flags(&e, cqe->flags, cqe_flag_names);
	/* `value` carries what expectations check beyond ret/errno: which tag, and whether more CQEs follow */
	ev_key(&e, "value");
	ev_obj_open(&e);
	ev_kstr(&e, "user_data", t ? t->name : "?");
	ev_key(&e, "more");
	ev_int(&e, more);
	ev_obj_close(&e);
	int live = t && t->fd_slot >= 0 && handle_from_token(t->fd_token) == t->fd_slot;
	if (t && t->opcode == IORING_OP_POLL_ADD && cqe->res >= 0 && live) {
		/* a poll CQE's res is the mask, decoded like epoll_wait's */
		ev_key(&e, "ready");
		ev_arr_open(&e);
		ev_obj_open(&e);
		ev_kstr(&e, "h", handle_name(t->fd_slot));
		ev_key(&e, "events");
		ev_flags(&e, (unsigned)cqe->res, epoll_flag_names);
		ev_obj_close(&e);
		ev_arr_close(&e);
	}
	if (t && t->opcode == IORING_OP_RECV && cqe->res >= 0) {
		ev_kdata(&e, t->buf, (size_t)cqe->res < t->buflen ? (size_t)cqe->res : t->buflen);
	}
	if (t && t->opcode == IORING_OP_ACCEPT && cqe->res >= 0) {
		/* the first accepted socket takes the step's name; later ones of a multishot accept NAME_2, NAME_3 ... */
		char name[HANDLE_NAME_MAX + 16];

		if (t->accepted == 0)
			snprintf(name, sizeof name, "%s", t->newname);
		else
			snprintf(name, sizeof name, "%s_%d", t->newname, t->accepted + 1);
		t->accepted++;
		if (strlen(name) <= HANDLE_NAME_MAX && handle_find(name) < 0 && !handle_table_full()) {
			ev_new_handle(&e, name, cqe->res);
		} else {
			close(cqe->res);
			ev_kint(&e, "closed_fd", 1);
		}
	}
	/* ret/errno as a syscall's: res >= 0 is the value, else -res the errno */
	ev_result(&e, t0, t1, cqe->res >= 0 ? cqe->res : -1, cqe->res >= 0 ? 0 : -cqe->res);
	ev_end(&e);
	if (t && !more)
		t->done = 1;
}

/* uring_wait R <ud|-> <timeout_ms>: the first CQE of tag ud (or of any), waiting up to timeout_ms. */
void op_uring_wait(const cmd_t *c)
{
	struct ring *r = cmd_ring(c, 0);
	long long timeout;
	struct tag *want = NULL;

	if (!r || cmd_int(c, c->args[2], "timeout_ms", -1, INT_MAX, &timeout) < 0)
		return;
	if (strcmp(c->args[1], "-") != 0) {
		want = tag_find(r, c->args[1]);
		if (!want) {
			cmd_error(c, "no user_data named '%.40s' on this ring", c->args[1]);
			return;
		}
	}

	int64_t t0 = mono_ns();
	int64_t deadline = timeout < 0 ? INT64_MAX : t0 + timeout * 1000000LL;
	int i = -1, err = 0;

	/*
	 * io_uring_enter(GETEVENTS, min_complete 0) runs pending task work, which
	 * posts completions queued by wakeups; poll() on the ring's fd sleeps until
	 * a CQE is posted (io_uring_poll) and works on every kernel, where the
	 * timeout argument of io_uring_enter needs 5.11 (IORING_ENTER_EXT_ARG).
	 */
	for (int round = 0; round < WAIT_ROUNDS_MAX; round++) {
		if (syscall(__NR_io_uring_enter, r->fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR) {
			err = errno;
			break;
		}
		if (reap(r) < 0 && queued(r, want) < 0) {
			cmd_error(c, "more than %d completions queued without a wait for them", QUEUE_MAX);
			return;
		}
		i = queued(r, want);
		if (i >= 0)
			break;
		int64_t now = mono_ns();
		if (now >= deadline)
			break;
		int64_t left = (deadline - now + 999999) / 1000000;
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR) {
			err = errno;
			break;
		}
	}
	int64_t t1 = mono_ns();

	if (i < 0) {
		/* no completion: ETIME, what io_uring_enter answers when its own timeout expires */
		ev_t e;

		ev_begin(&e, c->step, "io_uring_cqe");
		ev_kstr(&e, "h", c->args[0]);
		if (want)
			ev_kstr(&e, "user_data", want->name);
		ev_kint(&e, "timeout", timeout);
		ev_result(&e, t0, t1, -1, err ? err : ETIME);
		ev_end(&e);
		return;
	}
	struct io_uring_cqe cqe = r->queue[i];
	memmove(&r->queue[i], &r->queue[i + 1], (size_t)(r->nqueue - i - 1) * sizeof cqe);
	r->nqueue--;
	report_cqe(c, r, &cqe, t0, t1);
}
