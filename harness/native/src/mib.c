/*
 * mib.c - the kernel's SNMP/MIB counters as evidence: `mib <mark> [since]`.
 *
 * Reads /proc/self/net/{snmp,netstat,snmp6} of the network namespace the
 * probe is in now (the files follow the reader's namespace), naming each
 * counter as nstat does: TcpExtListenOverflows, TcpActiveOpens,
 * Ip6InReceives. Without `since` the snapshot is kept under <mark>; with
 * `since` the event's value holds the counters that changed since that
 * mark, as deltas. Counters that did not change are left out (a delta of
 * 0), which keeps the event small: a namespace has about 400 counters.
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB_MAX 1536        /* counters per snapshot (6.18 has about 420) */
#define MIB_NAME 64
#define MIB_MARKS 8
#define MIB_FILE_MAX (256 * 1024)

typedef struct {
	char name[MIB_NAME];
	long long value;
} counter_t;

typedef struct {
	char mark[32];
	counter_t *c;
	int n;
} snapshot_t;

static snapshot_t marks[MIB_MARKS];

/* Forget every mark (a probe reused for another result starts clean). */
void mib_reset(void)
{
	for (int i = 0; i < MIB_MARKS; i++) {
		free(marks[i].c);
		marks[i] = (snapshot_t){ 0 };
	}
}

static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t n = 0;
	ssize_t r = 0;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	int err = r < 0 ? errno : 0;
	close(fd);
	buf[n] = '\0';
	*len = n;
	return err;
}

static void add(counter_t *out, int *n, const char *prefix, size_t plen, const char *name, size_t nlen, long long v)
{
	if (*n >= MIB_MAX || plen + nlen >= MIB_NAME)
		return;
	memcpy(out[*n].name, prefix, plen);
	memcpy(out[*n].name + plen, name, nlen);
	out[*n].name[plen + nlen] = '\0';
	out[*n].value = v;
	(*n)++;
}

/* snmp and netstat: pairs of lines "Tcp: A B C" / "Tcp: 1 2 3". */
static void parse_pairs(char *buf, counter_t *out, int *n)
{
	char *line = buf;
	while (line && *line) {
		char *next = strchr(line, '\n');
		if (!next)
			break;
		*next = '\0';
		char *vals = next + 1;
		char *vend = strchr(vals, '\n');
		if (vend)
			*vend = '\0';
		char *colon = strchr(line, ':');
		char *vcolon = strchr(vals, ':');
		if (colon && vcolon && (size_t)(colon - line) == (size_t)(vcolon - vals) &&
		    strncmp(line, vals, (size_t)(colon - line)) == 0) {
			size_t plen = (size_t)(colon - line);
			char *k = colon + 1, *v = vcolon + 1;
			for (;;) {
				while (*k == ' ')
					k++;
				while (*v == ' ')
					v++;
				if (!*k || !*v)
					break;
				size_t klen = strcspn(k, " ");
				char *endv;
				long long val = strtoll(v, &endv, 10);
				if (endv == v)
					break;
				add(out, n, line, plen, k, klen, val);
				k += klen;
				v = endv;
			}
		}
		line = vend ? vend + 1 : NULL;
	}
}

/* snmp6: one "Name value" per line. */
static void parse_lines(char *buf, counter_t *out, int *n)
{
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		size_t klen = strcspn(line, " \t");
		char *v = line + klen;
		char *endv;
		long long val = strtoll(v, &endv, 10);
		if (klen && endv != v)
			add(out, n, "", 0, line, klen, val);
	}
}

static int snapshot(counter_t *out, int *n)
{
	char *buf = malloc(MIB_FILE_MAX);
	if (!buf)
		return ENOMEM;
	size_t len;
	int err;
	*n = 0;
	if ((err = read_file("/proc/self/net/snmp", buf, MIB_FILE_MAX, &len)) == 0)
		parse_pairs(buf, out, n);
	if (!err && (err = read_file("/proc/self/net/netstat", buf, MIB_FILE_MAX, &len)) == 0)
		parse_pairs(buf, out, n);
	/* no IPv6 in this kernel or namespace: its counters are simply absent */
	if (!err && read_file("/proc/self/net/snmp6", buf, MIB_FILE_MAX, &len) == 0)
		parse_lines(buf, out, n);
	free(buf);
	return err;
}

static snapshot_t *find_mark(const char *mark)
{
	for (int i = 0; i < MIB_MARKS; i++)
		if (marks[i].c && strcmp(marks[i].mark, mark) == 0)
			return &marks[i];
	return NULL;
}

void op_mib(const cmd_t *c)
{
	const char *mark = c->args[0];
	const char *since = c->nargs > 1 ? c->args[1] : NULL;
	if (strlen(mark) >= sizeof marks[0].mark) {
		cmd_error(c, "mark name too long");
		return;
	}
	snapshot_t *base = NULL;
	if (since && !(base = find_mark(since))) {
		cmd_error(c, "no mib mark '%.31s' in this actor", since);
		return;
	}
	counter_t *now = malloc(sizeof *now * MIB_MAX);
	if (!now) {
		cmd_error(c, "out of memory");
		return;
	}
	int n = 0;
	int64_t t0 = mono_ns();
	int err = snapshot(now, &n);
	int64_t t1 = mono_ns();

	ev_t e;
	ev_begin(&e, c->step, "mib");
	ev_kstr(&e, "mark", mark);
	if (since)
		ev_kstr(&e, "since", since);
	if (err) {
		ev_result(&e, t0, t1, -1, err);
		ev_end(&e);
		free(now);
		return;
	}
	int changed = 0;
	if (base) {
		ev_key(&e, "value");
		ev_obj_open(&e);
		/* both snapshots list the counters in the kernel's order */
		for (int i = 0, j = 0; i < n; i++) {
			long long before = 0;
			int k = j < base->n && strcmp(base->c[j].name, now[i].name) == 0 ? j : -1;
			for (int s = 0; k < 0 && s < base->n; s++)
				if (strcmp(base->c[s].name, now[i].name) == 0)
					k = s;
			if (k >= 0) {
				before = base->c[k].value;
				j = k + 1;
			}
			if (now[i].value != before) {
				ev_kint(&e, now[i].name, now[i].value - before);
				changed++;
			}
		}
		ev_obj_close(&e);
	}
	ev_result(&e, t0, t1, base ? changed : n, 0);
	ev_end(&e);

	snapshot_t *slot = find_mark(mark);
	for (int i = 0; !slot && i < MIB_MARKS; i++)
		if (!marks[i].c)
			slot = &marks[i];
	if (!slot) {
		free(now);
		return;  /* the event is out; a ninth mark is simply not kept */
	}
	free(slot->c);
	snprintf(slot->mark, sizeof slot->mark, "%s", mark);
	slot->c = now;
	slot->n = n;
}
