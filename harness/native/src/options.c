/*
 * options.c - setsockopt / getsockopt with named levels and options.
 *
 * Values are plain integers except: SO_LINGER "onoff,secs" <-> {"onoff","linger"},
 * SO_RCVTIMEO/SO_SNDTIMEO milliseconds <-> struct timeval, TCP_CONGESTION a
 * name, TCP_INFO an object (get only), SO_ERROR an int plus "value_name".
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <limits.h>
#include <linux/mptcp.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

/* include/net/tcp.h TCP_CA_NAME_MAX (not exported to userspace) */
#define CA_NAME_MAX 16

/* Options newer than the build machine's headers, by their uapi numbers
 * (asm-generic/socket.h, linux/tcp.h, linux/in.h): an older kernel answers
 * ENOPROTOOPT, which is what scenarios/kernel-changes asks about. */
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif
#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef SO_RESERVE_MEM
#define SO_RESERVE_MEM 73
#endif
#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif
#ifndef TCP_RTO_MAX_MS
#define TCP_RTO_MAX_MS 44
#endif
#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* Room for a struct tcp_info bigger than our header's: the kernel copies
 * min(optlen, its sizeof) and writes that back to optlen, so the reported
 * optlen is the running kernel's struct size, which grew with new fields,
 * not ours. */
#define TCP_INFO_ROOM 512

enum kind { K_INT, K_LINGER, K_TIMEO, K_STRING, K_TCPINFO, K_ERROR, K_MPTCPINFO };

typedef struct {
	const char *level;    /* the level's protocol spelling */
	const char *name;
	int opt;
	enum kind kind;
} optdef_t;

/* Both tables are generated from the op table (optable.gen.h). */
#define OPT_(lv, x, k) { lv, #x, x, k },
static const optdef_t opts[] = {
	OPTABLE_OPTIONS(OPT_)
	{ NULL, NULL, 0, K_INT }
};
#undef OPT_

static const struct level {
	const char *arg;      /* protocol spelling */
	const char *name;     /* reported spelling */
	int level;
} levels[] = {
#define LEVEL_(arg, name, lv) { arg, name, lv },
	OPTABLE_LEVELS(LEVEL_)
#undef LEVEL_
	{ NULL, NULL, 0 }
};

/* Resolves args[1] (level) and args[2] (option). */
static int lookup(const cmd_t *c, const struct level **lv, const optdef_t **od)
{
	for (*lv = levels; (*lv)->arg; (*lv)++)
		if (strcmp((*lv)->arg, c->args[1]) == 0)
			break;
	if (!(*lv)->arg) {
		cmd_error(c, "unknown level '%.32s' (socket|tcp|ip|ipv6|mptcp)", c->args[1]);
		return -1;
	}
	for (*od = opts; (*od)->name; (*od)++)
		if (strcmp((*od)->level, (*lv)->arg) == 0 && strcmp((*od)->name, c->args[2]) == 0)
			return 0;
	cmd_error(c, "unknown option '%.40s' for level %s", c->args[2], (*lv)->arg);
	return -1;
}

/* TCP state names as in include/net/tcp_states.h (tcpi_state). */
static const char *tcp_state_name(unsigned st)
{
	static const char *const names[] = {
		"0", "TCP_ESTABLISHED", "TCP_SYN_SENT", "TCP_SYN_RECV",
		"TCP_FIN_WAIT1", "TCP_FIN_WAIT2", "TCP_TIME_WAIT", "TCP_CLOSE",
		"TCP_CLOSE_WAIT", "TCP_LAST_ACK", "TCP_LISTEN", "TCP_CLOSING",
		"TCP_NEW_SYN_RECV", "TCP_BOUND_INACTIVE",
	};
	return st < sizeof names / sizeof names[0] ? names[st] : NULL;
}

static const char *tcp_ca_state_name(unsigned st)
{
	static const char *const names[] = {
		"TCP_CA_Open", "TCP_CA_Disorder", "TCP_CA_CWR", "TCP_CA_Recovery", "TCP_CA_Loss",
	};
	return st < sizeof names / sizeof names[0] ? names[st] : NULL;
}

/* struct tcp_info as an object. Only fields the kernel actually filled
 * (within the returned optlen) are reported: do_tcp_getsockopt copies
 * min(len, sizeof(struct tcp_info)) of what tcp_get_info (net/ipv4/tcp.c)
 * wrote, so a field of a newer userspace header than the kernel's struct is
 * absent, not the zero of our memset. Every field reported is the kernel's
 * value, but not every value means something in every state: tcp_get_info
 * returns early for listeners (unacked/sacked are the accept queue and its
 * limit), and notsent_bytes (write_seq - snd_nxt) and the last_* ages are
 * garbage before the first SYN of a deferred TCP_FASTOPEN_CONNECT; which
 * fields a comparison uses is decided in harness/compare/normalise.ts.
 * Field names drop the "tcpi_" prefix; all fields are unsigned
 * (max_pacing_rate is ~0ULL when unlimited). */
static void ev_tcp_info(ev_t *e, const struct tcp_info *ti, socklen_t len)
{
	ev_obj_open(e);
	ev_kint(e, "optlen", len);
	if (len >= 8) {
		const char *s = tcp_state_name(ti->tcpi_state);
		const char *ca = tcp_ca_state_name(ti->tcpi_ca_state);

		if (s)
			ev_kstr(e, "state", s);
		else
			ev_kint(e, "state", ti->tcpi_state);
		if (ca)
			ev_kstr(e, "ca_state", ca);
		else
			ev_kint(e, "ca_state", ti->tcpi_ca_state);
		ev_kint(e, "retransmits", ti->tcpi_retransmits);
		ev_kint(e, "probes", ti->tcpi_probes);
		ev_kint(e, "backoff", ti->tcpi_backoff);
		ev_kint(e, "options", ti->tcpi_options);
		ev_kint(e, "snd_wscale", ti->tcpi_snd_wscale);
		ev_kint(e, "rcv_wscale", ti->tcpi_rcv_wscale);
		ev_kint(e, "delivery_rate_app_limited", ti->tcpi_delivery_rate_app_limited);
		ev_kint(e, "fastopen_client_fail", ti->tcpi_fastopen_client_fail);
	}
#define F_(f) do { \
		if (offsetof(struct tcp_info, tcpi_##f) + sizeof ti->tcpi_##f <= len) \
			ev_kuint(e, #f, (unsigned long long)ti->tcpi_##f); \
	} while (0)
	F_(rto); F_(ato); F_(snd_mss); F_(rcv_mss);
	F_(unacked); F_(sacked); F_(lost); F_(retrans); F_(fackets);
	F_(last_data_sent); F_(last_ack_sent); F_(last_data_recv); F_(last_ack_recv);
	F_(pmtu); F_(rcv_ssthresh); F_(rtt); F_(rttvar); F_(snd_ssthresh);
	F_(snd_cwnd); F_(advmss); F_(reordering); F_(rcv_rtt); F_(rcv_space);
	F_(total_retrans); F_(pacing_rate); F_(max_pacing_rate); F_(bytes_acked);
	F_(bytes_received); F_(segs_out); F_(segs_in); F_(notsent_bytes);
	F_(min_rtt); F_(data_segs_in); F_(data_segs_out); F_(delivery_rate);
	F_(busy_time); F_(rwnd_limited); F_(sndbuf_limited); F_(delivered);
	F_(delivered_ce); F_(bytes_sent); F_(bytes_retrans); F_(dsack_dups);
	F_(reord_seen); F_(rcv_ooopack); F_(snd_wnd);
#undef F_
	ev_obj_close(e);
}

/* struct mptcp_info (include/uapi/linux/mptcp.h) as an object, the fields
 * the kernel filled (mptcp_getsockopt_info copies min(len, sizeof)). The
 * token and the 64-bit sequence numbers are left out: they derive from the
 * random keys and would make every trace differ. flags as names, "0" when
 * none. */
static void ev_mptcp_info(ev_t *e, const struct mptcp_info *mi, socklen_t len)
{
	ev_obj_open(e);
#define F_(f) do { \
		if (offsetof(struct mptcp_info, mptcpi_##f) + sizeof mi->mptcpi_##f <= len) \
			ev_kuint(e, #f, (unsigned long long)mi->mptcpi_##f); \
	} while (0)
	F_(subflows); F_(add_addr_signal); F_(add_addr_accepted);
	F_(subflows_max); F_(add_addr_signal_max); F_(add_addr_accepted_max);
	if (offsetof(struct mptcp_info, mptcpi_flags) + sizeof mi->mptcpi_flags <= len) {
		char names[96] = "";
		unsigned rest = mi->mptcpi_flags;

		if (rest & MPTCP_INFO_FLAG_FALLBACK)
			strcat(names, "MPTCP_INFO_FLAG_FALLBACK|");
		if (rest & MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED)
			strcat(names, "MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED|");
		rest &= ~(unsigned)(MPTCP_INFO_FLAG_FALLBACK | MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED);
		if (rest)
			snprintf(names + strlen(names), sizeof names - strlen(names), "0x%x|", rest);
		if (names[0])
			names[strlen(names) - 1] = '\0';
		ev_kstr(e, "flags", names[0] ? names : "0");
	}
	F_(local_addr_used); F_(local_addr_max); F_(csum_enabled);
#undef F_
	ev_obj_close(e);
}

static void ev_head(ev_t *e, const cmd_t *c, const char *op, int slot,
		    const struct level *lv, const optdef_t *od)
{
	ev_begin(e, c->step, op);
	ev_kstr(e, "h", handle_name(slot));
	ev_kstr(e, "level", lv->name);
	ev_kstr(e, "opt", od->name);
}

void op_setsockopt(const cmd_t *c)
{
	const struct level *lv;
	const optdef_t *od;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || lookup(c, &lv, &od) < 0)
		return;

	const char *arg = c->args[3];
	union {
		int i;
		struct linger l;
		struct timeval tv;
	} v;
	const void *val = &v;
	socklen_t len;
	long long ms = 0, x;

	memset(&v, 0, sizeof v);
	switch (od->kind) {
	case K_LINGER: {
		const char *comma = strchr(arg, ',');
		char on[24];

		if (!comma || (size_t)(comma - arg) >= sizeof on) {
			cmd_error(c, "SO_LINGER value must be 'onoff,secs'");
			return;
		}
		memcpy(on, arg, (size_t)(comma - arg));
		on[comma - arg] = '\0';
		if (cmd_int(c, on, "linger onoff", INT_MIN, INT_MAX, &x) < 0)
			return;
		v.l.l_onoff = (int)x;
		if (cmd_int(c, comma + 1, "linger seconds", INT_MIN, INT_MAX, &x) < 0)
			return;
		v.l.l_linger = (int)x;
		len = sizeof v.l;
		break;
	}
	case K_TIMEO:
		if (cmd_int(c, arg, "timeout ms", 0, INT_MAX, &ms) < 0)
			return;
		v.tv.tv_sec = ms / 1000;
		v.tv.tv_usec = (ms % 1000) * 1000;
		len = sizeof v.tv;
		break;
	case K_STRING:
		val = arg;
		len = (socklen_t)strlen(arg);
		break;
	default:  /* K_INT; TCP_INFO/SO_ERROR too: the kernel rejects them */
		if (cmd_int(c, arg, "value", INT_MIN, INT_MAX, &x) < 0)
			return;
		v.i = (int)x;
		len = sizeof v.i;
		break;
	}

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, setsockopt(handle_fd(slot), lv->level, od->opt, val, len));
	ev_head(&e, c, "setsockopt", slot, lv, od);
	ev_key(&e, "value");
	switch (od->kind) {
	case K_LINGER:
		ev_obj_open(&e);
		ev_kint(&e, "onoff", v.l.l_onoff);
		ev_kint(&e, "linger", v.l.l_linger);
		ev_obj_close(&e);
		break;
	case K_TIMEO:
		ev_int(&e, ms);
		break;
	case K_STRING:
		ev_str(&e, arg);
		break;
	default:
		ev_int(&e, v.i);
		break;
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_getsockopt(const cmd_t *c)
{
	const struct level *lv;
	const optdef_t *od;
	int slot = cmd_handle(c, 0);

	if (slot < 0 || lookup(c, &lv, &od) < 0)
		return;

	union {
		int i;
		struct linger l;
		struct timeval tv;
		struct tcp_info ti;
		struct mptcp_info mi;
		unsigned char ti_room[TCP_INFO_ROOM];
		char s[CA_NAME_MAX];
	} v;
	socklen_t len;

	switch (od->kind) {
	case K_LINGER: len = sizeof v.l; break;
	case K_TIMEO: len = sizeof v.tv; break;
	case K_TCPINFO: len = sizeof v.ti_room; break;
	case K_MPTCPINFO: len = sizeof v.mi; break;
	case K_STRING: len = sizeof v.s; break;
	default: len = sizeof v.i; break;
	}
	memset(&v, 0, sizeof v);

	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, getsockopt(handle_fd(slot), lv->level, od->opt, &v, &len));
	ev_head(&e, c, "getsockopt", slot, lv, od);
	if (ret == 0) {
		ev_key(&e, "value");
		switch (od->kind) {
		case K_LINGER:
			ev_obj_open(&e);
			ev_kint(&e, "onoff", v.l.l_onoff);
			ev_kint(&e, "linger", v.l.l_linger);
			ev_obj_close(&e);
			break;
		case K_TIMEO:
			ev_int(&e, (long long)v.tv.tv_sec * 1000 + v.tv.tv_usec / 1000);
			break;
		case K_TCPINFO:
			ev_tcp_info(&e, &v.ti, len);
			break;
		case K_MPTCPINFO:
			ev_mptcp_info(&e, &v.mi, len);
			break;
		case K_STRING:
			ev_bytes(&e, v.s, strnlen(v.s, len < sizeof v.s ? len : sizeof v.s));
			break;
		case K_ERROR:
			/* SO_ERROR reads and clears sk->sk_err (sock_error()). */
			ev_int(&e, v.i);
			if (v.i) {
				char buf[16];
				ev_kstr(&e, "value_name", errno_name(v.i, buf));
			} else {
				ev_kstr(&e, "value_name", "0");
			}
			break;
		default:
			ev_int(&e, v.i);
			break;
		}
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}
