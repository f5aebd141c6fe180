/*
 * event.c - JSON line writer, errno and flag name tables.
 *
 * Strings are escaped so that every line is valid JSON whatever bytes the
 * runner sent or the kernel returned: printable ASCII is copied, '"' and '\'
 * are backslash-escaped, every other byte becomes \u00XX (one code point per
 * byte, which is what PROTOCOL.md asks for "data"). Unix socket paths are
 * the exception: well-formed UTF-8 in them is kept (quote_path).
 */
#include "event.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* The only global besides the handle table: the event sequence counter.
 * The hello event is seq 0, the first command event seq 1. */
static unsigned long long ev_seq;

int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- names ---------------------------------------------------------- */

#define N_(x) { (unsigned long)(x), #x }

/* The names come from errno-names.def (shared with the harness). */
static const flagname_t errno_names[] = {
/* stringified here: N_(x) would see x already expanded to its number */
#define ERRNO(x) { (unsigned long)(x), #x },
#include "errno-names.def"
#undef ERRNO
	{ 0, NULL }
};

const char *errno_name(int err, char *buf)
{
	for (const flagname_t *p = errno_names; p->name; p++)
		if (p->bit == (unsigned long)err)
			return p->name;
	snprintf(buf, 16, "E%d", err);
	return buf;
}

/* Ascending bit order, so a fresh TCP socket reads ["EPOLLOUT","EPOLLHUP"].
 * The input-only bits (EPOLLEXCLUSIVE .. EPOLLET) are listed for echoing the
 * epoll_ctl request. */
const flagname_t epoll_flag_names[] = {
	N_(EPOLLIN), N_(EPOLLPRI), N_(EPOLLOUT), N_(EPOLLERR), N_(EPOLLHUP),
	N_(EPOLLRDNORM), N_(EPOLLRDBAND), N_(EPOLLWRNORM), N_(EPOLLWRBAND),
	N_(EPOLLMSG), N_(EPOLLRDHUP), N_(EPOLLEXCLUSIVE), N_(EPOLLWAKEUP),
	N_(EPOLLONESHOT), N_(EPOLLET),
	{ 0, NULL }
};

const flagname_t poll_flag_names[] = {
	N_(POLLIN), N_(POLLPRI), N_(POLLOUT), N_(POLLERR), N_(POLLHUP),
	N_(POLLNVAL), N_(POLLRDNORM), N_(POLLRDBAND), N_(POLLWRNORM),
	N_(POLLWRBAND), N_(POLLMSG), N_(POLLRDHUP),
	{ 0, NULL }
};

/* recvmsg msg_flags (and the send/recv flag bits, for completeness). */
const flagname_t msg_flag_names[] = {
	N_(MSG_OOB), N_(MSG_PEEK), N_(MSG_DONTROUTE), N_(MSG_CTRUNC),
	N_(MSG_TRUNC), N_(MSG_DONTWAIT), N_(MSG_EOR), N_(MSG_WAITALL),
	N_(MSG_FIN), N_(MSG_SYN), N_(MSG_CONFIRM), N_(MSG_RST),
	N_(MSG_ERRQUEUE), N_(MSG_NOSIGNAL), N_(MSG_MORE), N_(MSG_WAITFORONE),
	N_(MSG_FASTOPEN), N_(MSG_CMSG_CLOEXEC),
	{ 0, NULL }
};

/* ---- buffer ------------------------------------------------------------ */

static void put(ev_t *e, const char *s, size_t n)
{
	if (e->len + n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 512;

		while (e->len + n + 1 > cap)
			cap *= 2;
		char *nb = realloc(e->buf, cap);
		if (!nb) {
			/* Nothing sensible can be reported without memory. */
			static const char msg[] = "sockspec-probe: out of memory\n";
			(void)!write(2, msg, sizeof msg - 1);
			_exit(2);
		}
		e->buf = nb;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
}

static void putf(ev_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(ev_t *e, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(e, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Comma management: called before every key and every value. */
static void sep(ev_t *e)
{
	if (e->after_key) {
		e->after_key = 0;
		return;
	}
	if (!e->first)
		put(e, ",", 1);
	e->first = 0;
}

/* One byte of a JSON string: printable ASCII as is, '"' and '\\' escaped, others \u00XX. */
static void quote_byte(ev_t *e, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		char esc[2] = { '\\', (char)c };
		put(e, esc, 2);
	} else if (c >= 0x20 && c < 0x7f) {
		put(e, (const char *)&c, 1);
	} else {
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		put(e, esc, 6);
	}
}

static void quote(ev_t *e, const unsigned char *p, size_t n)
{
	put(e, "\"", 1);
	for (size_t i = 0; i < n; i++)
		quote_byte(e, p[i]);
	put(e, "\"", 1);
}

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629: shortest form, no
 * surrogates, at most U+10FFFF) of 2-4 bytes starting at p, or 0.
 */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* the second byte's range rules out overlong forms, surrogates and > U+10FFFF */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * A unix socket path: like quote(), but well-formed UTF-8 passes through as
 * is, so a non-ASCII path reads back as the string the harness sent (and
 * can be sent again, for `to:`). Other bytes above 0x7f stay \u00XX.
 */
static void quote_path(ev_t *e, const unsigned char *p, size_t n)
{
	put(e, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t k = p[i] >= 0x80 ? utf8_seq(p + i, n - i) : 0;

		if (k) {
			put(e, (const char *)p + i, k);
			i += k;
			continue;
		}
		quote_byte(e, p[i]);
		i++;
	}
	put(e, "\"", 1);
}

/* ---- writer ------------------------------------------------------------ */

void ev_key(ev_t *e, const char *key)
{
	sep(e);
	quote(e, (const unsigned char *)key, strlen(key));
	put(e, ":", 1);
	e->after_key = 1;
}

void ev_int(ev_t *e, long long v)
{
	sep(e);
	putf(e, "%lld", v);
}

void ev_uint(ev_t *e, unsigned long long v)
{
	sep(e);
	putf(e, "%llu", v);
}

void ev_bool(ev_t *e, int v)
{
	sep(e);
	put(e, v ? "true" : "false", v ? 4 : 5);
}

void ev_str(ev_t *e, const char *s)
{
	sep(e);
	quote(e, (const unsigned char *)s, strlen(s));
}

void ev_bytes(ev_t *e, const void *p, size_t n)
{
	sep(e);
	quote(e, p, n);
}

void ev_obj_open(ev_t *e)
{
	sep(e);
	put(e, "{", 1);
	e->first = 1;
}

void ev_obj_close(ev_t *e)
{
	put(e, "}", 1);
	e->first = 0;
}

void ev_arr_open(ev_t *e)
{
	sep(e);
	put(e, "[", 1);
	e->first = 1;
}

void ev_arr_close(ev_t *e)
{
	put(e, "]", 1);
	e->first = 0;
}

void ev_kint(ev_t *e, const char *key, long long v)
{
	ev_key(e, key);
	ev_int(e, v);
}

void ev_kuint(ev_t *e, const char *key, unsigned long long v)
{
	ev_key(e, key);
	ev_uint(e, v);
}

void ev_kstr(ev_t *e, const char *key, const char *s)
{
	ev_key(e, key);
	ev_str(e, s);
}

void ev_flag_items(ev_t *e, unsigned long mask, const flagname_t *tab)
{
	for (const flagname_t *p = tab; p->name; p++) {
		if (p->bit && (mask & p->bit) == p->bit) {
			ev_str(e, p->name);
			mask &= ~p->bit;
		}
	}
	/* Bits without a name: "BIT<n>" (n = bit index), which keeps every
	 * item an upper-case identifier like the real names. */
	for (int i = 0; mask; i++) {
		if (mask & (1UL << i)) {
			char tmp[16];

			snprintf(tmp, sizeof tmp, "BIT%d", i);
			ev_str(e, tmp);
			mask &= ~(1UL << i);
		}
	}
}

void ev_flags(ev_t *e, unsigned long mask, const flagname_t *tab)
{
	ev_arr_open(e);
	ev_flag_items(e, mask, tab);
	ev_arr_close(e);
}

void ev_addr(ev_t *e, const struct sockaddr *sa, socklen_t len)
{
	char ip[INET6_ADDRSTRLEN];

	ev_obj_open(e);
	if (len < sizeof(sa_family_t)) {
		/* the kernel wrote no address at all */
		ev_kstr(e, "family", "unspec");
	} else if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		ev_kstr(e, "family", "inet");
		ev_kstr(e, "addr", ip);
		ev_kint(e, "port", ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		ev_kstr(e, "family", "inet6");
		ev_kstr(e, "addr", ip);
		ev_kint(e, "port", ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		ev_kstr(e, "family", "unix");
		ev_key(e, "path");
		if (n == 0) {
			ev_str(e, "");                      /* unnamed socket */
		} else if (un->sun_path[0] == '\0') {
			/* abstract: "@" + name, the name may hold any byte */
			char tmp[sizeof un->sun_path + 1];

			tmp[0] = '@';
			memcpy(tmp + 1, un->sun_path + 1, n - 1);
			sep(e);
			quote_path(e, (const unsigned char *)tmp, n);
		} else {
			sep(e);
			quote_path(e, (const unsigned char *)un->sun_path, strnlen(un->sun_path, n));
		}
	} else if (sa->sa_family == AF_UNSPEC) {
		ev_kstr(e, "family", "unspec");
	} else {
		ev_kstr(e, "family", "other");
	}
	ev_obj_close(e);
}

/* ---- event framing ------------------------------------------------------ */

void ev_begin(ev_t *e, const char *step, const char *op)
{
	memset(e, 0, sizeof *e);
	put(e, "{", 1);
	e->first = 1;
	ev_kint(e, "seq", (long long)ev_seq++);
	if (step)
		ev_kstr(e, "step", step);
	ev_kstr(e, "op", op);
}

/* Lines of the current command, written together with its done frame
 * (ev_batch): one write per answer instead of one per event. */
static char *out;
static size_t out_len, out_cap;
static int batching;

static void write_all(const char *p, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(1, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* The runner is gone (EPIPE, SIGPIPE is ignored). */
			_exit(1);
		}
		off += (size_t)n;
	}
}

void ev_flush(void)
{
	if (out_len)
		write_all(out, out_len);
	out_len = 0;
}

void ev_batch(int on)
{
	ev_flush();
	batching = on;
}

void ev_end(ev_t *e)
{
	put(e, "}\n", 2);
	if (!batching) {
		/* Unbatched (hello, capture mode): one write per line, so every
		 * event is visible before the next (possibly blocking) call. */
		write_all(e->buf, e->len);
	} else {
		if (out_len + e->len > out_cap) {
			size_t cap = out_cap ? out_cap : 4096;
			while (out_len + e->len > cap)
				cap *= 2;
			char *nb = realloc(out, cap);
			if (!nb) {
				static const char msg[] = "sockspec-probe: out of memory\n";
				(void)!write(2, msg, sizeof msg - 1);
				_exit(2);
			}
			out = nb;
			out_cap = cap;
		}
		memcpy(out + out_len, e->buf, e->len);
		out_len += e->len;
	}
	free(e->buf);
	memset(e, 0, sizeof *e);
}

unsigned long long ev_count(void)
{
	return ev_seq;
}

void ev_seq_restart(void)
{
	ev_seq = 1;
}

void ev_done(const char *step, unsigned long long events)
{
	ev_t e;

	/* Not an event: no seq; built with the same writer for escaping. */
	memset(&e, 0, sizeof e);
	put(&e, "{", 1);
	e.first = 1;
	ev_kstr(&e, "done", step);
	ev_kint(&e, "events", (long long)events);
	ev_end(&e);
	/* The command's answer is complete: its events and this frame go out
	 * in one write. */
	ev_flush();
}

void ev_result(ev_t *e, int64_t t0, int64_t t1, long long ret, int err)
{
	ev_kint(e, "t0", t0);
	ev_kint(e, "t1", t1);
	ev_kint(e, "ret", ret);
	if (ret < 0) {
		char buf[16];
		ev_kstr(e, "errno", errno_name(err, buf));
	}
}

void ev_error(const char *step, const char *op, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	ev_t e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	int64_t t = mono_ns();
	ev_begin(&e, step ? step : "?", op ? op : "?");
	ev_kint(&e, "t0", t);
	ev_kint(&e, "t1", t);
	ev_kstr(&e, "error", msg);
	ev_end(&e);
}

/*
 * The hello event, written once before anything else: protocol version,
 * pid, and the uname of the machine the probe runs on (the harness records
 * each actor's kernel from it). Capture mode adds the interfaces it watches.
 */
void ev_hello(int nif, char **ifnames)
{
	struct utsname u;
	ev_t e;

	memset(&u, 0, sizeof u);
	uname(&u);
	ev_begin(&e, NULL, "hello");
	ev_kint(&e, "protocol", PROTOCOL_VERSION);
	ev_kint(&e, "pid", getpid());
	ev_kint(&e, "t0", mono_ns());
	ev_key(&e, "uname");
	ev_obj_open(&e);
	ev_kstr(&e, "sysname", u.sysname);
	ev_kstr(&e, "release", u.release);
	ev_kstr(&e, "version", u.version);
	ev_kstr(&e, "machine", u.machine);
	ev_obj_close(&e);
	if (ifnames) {
		ev_key(&e, "capture");
		ev_arr_open(&e);
		for (int i = 0; i < nif; i++)
			ev_str(&e, ifnames[i]);
		ev_arr_close(&e);
	}
	ev_end(&e);
}

/* A filled socket buffer read back is hundreds of KiB of the sender's pattern:
 * kept whole it made a result's trace 150 KB. Expectations check a few dozen
 * bytes; ret says how many arrived. */
void ev_kdata(ev_t *e, const void *p, size_t n)
{
	ev_key(e, "data");
	ev_bytes(e, p, n < EV_DATA_MAX ? n : EV_DATA_MAX);
	if (n > EV_DATA_MAX)
		ev_kint(e, "data_more", (long long)(n - EV_DATA_MAX));
}
