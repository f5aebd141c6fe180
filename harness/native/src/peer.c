/*
 * peer.c - a scripted packet peer on a TUN device (PROTOCOL.md, "Packet
 * peer").
 *
 * The kit routes the peer's address into a TUN device (IFF_TUN|IFF_NO_PI)
 * in the namespace of the host under test; this probe, in that namespace,
 * reads every IP packet the kernel sends there and writes crafted ones the
 * kernel receives as if from the network. Nothing else answers: no ARP or
 * NDP on a TUN link, no peer stack that would send its own RST. This is
 * packetdrill's design.
 *
 * Sequence numbers are relative, as in packetdrill: the kernel's from the
 * ISN of the first SYN it sends, the peer's from PEER_ISN. Each segment in
 * either direction is also reported as an op "packet" event shaped like a
 * captured one, so the trace draws it on the wire lane.
 */
#include "capture.h"
#include "handles.h"
#include "ops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The peer's ISN: fixed, so absolute numbers in a trace repeat. */
#define PEER_ISN 0x5ca1ab1eU
#define PKT_MAX 65536
#define PAYLOAD_MAX 4096
#define OPT_MAX 40
#define HIST 8

static const flagname_t tcp_flag_names[] = {
	{ 0x01, "FIN" }, { 0x02, "SYN" }, { 0x04, "RST" }, { 0x08, "PSH" },
	{ 0x10, "ACK" }, { 0x20, "URG" }, { 0x40, "ECE" }, { 0x80, "CWR" },
	{ 0, NULL },
};

/* The same names for segments the peer sends ("SYN|ACK"). */
static const flagdef_t tcp_flag_defs[] = {
	{ "FIN", 0x01 }, { "SYN", 0x02 }, { "RST", 0x04 }, { "PSH", 0x08 },
	{ "ACK", 0x10 }, { "URG", 0x20 }, { "ECE", 0x40 }, { "CWR", 0x80 },
	{ NULL, 0 },
};

static struct {
	int slot;                 /* handle of the tun fd, -1: none */
	char ifname[IFNAMSIZ];
	int family;               /* AF_INET / AF_INET6 */
	unsigned char paddr[16];  /* the peer's address (the tun route's destination) */
	unsigned char kaddr[16];  /* the kernel's address, learned from its SYN */
	uint16_t pport, kport;
	int learned;              /* the kernel's address and port are known */
	int isn_known;            /* and its ISN (from its SYN or SYN-ACK) */
	uint32_t k_isn;
	uint32_t ts_val;          /* the peer's next TS value */
	uint32_t k_ts;            /* the kernel's latest TS value (our ecr) */
	unsigned char last[PKT_MAX]; /* the kernel's last segment (ICMP quotes it) */
	struct seen {             /* the last HIST segments read: a retransmission repeats one */
		unsigned flags;
		uint32_t seq;
		size_t len;
	} hist[HIST];
	int nhist;
	uint32_t k_high;          /* the kernel's highest end sequence number seen */
	int k_high_set;
	size_t last_len;
} P = { .slot = -1 };

static int alen(void) { return P.family == AF_INET ? 4 : 16; }

/* Internet checksum over a pseudo header (or none) and data. */
static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const unsigned char *b = p;
	for (; n > 1; n -= 2, b += 2)
		s += (uint32_t)b[0] << 8 | b[1];
	if (n)
		s += (uint32_t)b[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Checksum of an L4 part with the IPv4/IPv6 pseudo header. */
static uint16_t l4_sum(const unsigned char *src, const unsigned char *dst, int proto, const unsigned char *l4, size_t n)
{
	uint32_t s = sum16(src, (size_t)alen(), 0);
	s = sum16(dst, (size_t)alen(), s);
	s += (uint32_t)proto + (uint32_t)(n >> 16) + (uint32_t)(n & 0xffff);
	return fold(sum16(l4, n, s));
}

static void put16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static void put32(unsigned char *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }
static uint32_t get16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get32(const unsigned char *p) { return get16(p) << 16 | get16(p + 2); }

/* The IP header in front of an L4 part of n bytes; returns its length. */
static size_t ip_header(unsigned char *pkt, int proto, size_t n)
{
	if (P.family == AF_INET) {
		static uint16_t id;
		memset(pkt, 0, 20);
		pkt[0] = 0x45;
		put16(pkt + 2, (uint32_t)(20 + n));
		put16(pkt + 4, ++id);
		put16(pkt + 6, 0x4000);  /* DF */
		pkt[8] = 64;
		pkt[9] = (unsigned char)proto;
		memcpy(pkt + 12, P.paddr, 4);
		memcpy(pkt + 16, P.kaddr, 4);
		put16(pkt + 10, fold(sum16(pkt, 20, 0)));
		return 20;
	}
	memset(pkt, 0, 40);
	pkt[0] = 0x60;
	put16(pkt + 4, (uint32_t)n);
	pkt[6] = (unsigned char)proto;
	pkt[7] = 64;
	memcpy(pkt + 8, P.paddr, 16);
	memcpy(pkt + 24, P.kaddr, 16);
	return 40;
}

/* A parsed TCP segment (from or to the kernel). */
typedef struct {
	const unsigned char *ip, *th;
	size_t iplen, doff, len;
	int family;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
} seg_t;

/* Parses an IP packet; 0 if it is a TCP segment between the kernel and this peer. */
static int parse(const unsigned char *p, size_t n, seg_t *s)
{
	size_t off;
	int proto;
	memset(s, 0, sizeof *s);
	if (n >= 20 && p[0] >> 4 == 4 && P.family == AF_INET) {
		off = (size_t)(p[0] & 15) * 4;
		s->iplen = get16(p + 2);
		proto = p[9];
		if (off < 20 || memcmp(p + 16, P.paddr, 4) != 0)
			return -1;
		inet_ntop(AF_INET, p + 12, s->src, sizeof s->src);
		inet_ntop(AF_INET, p + 16, s->dst, sizeof s->dst);
	} else if (n >= 40 && p[0] >> 4 == 6 && P.family == AF_INET6) {
		off = 40;
		s->iplen = 40 + get16(p + 4);
		proto = p[6];  /* the kernel adds no extension headers to TCP here */
		if (memcmp(p + 24, P.paddr, 16) != 0)
			return -1;
		inet_ntop(AF_INET6, p + 8, s->src, sizeof s->src);
		inet_ntop(AF_INET6, p + 24, s->dst, sizeof s->dst);
	} else {
		return -1;
	}
	if (proto != IPPROTO_TCP || s->iplen > n || off + 20 > s->iplen)
		return -1;
	s->ip = p;
	s->th = p + off;
	s->doff = (size_t)(s->th[12] >> 4) * 4;
	if (s->doff < 20 || off + s->doff > s->iplen || get16(s->th + 2) != P.pport)
		return -1;
	s->len = s->iplen - off - s->doff;
	s->family = P.family;
	return 0;
}

/* The segment as a captured one (capture.c's shape), on the wire lane. */
static void wire_event(const char *step, int64_t t, const seg_t *s)
{
	ev_t e;
	ev_begin(&e, step, "packet");
	ev_kint(&e, "t0", t);
	ev_kstr(&e, "if", P.ifname);
	ev_kstr(&e, "family", s->family == AF_INET ? "inet" : "inet6");
	ev_kstr(&e, "src", s->src);
	ev_kint(&e, "sport", get16(s->th));
	ev_kstr(&e, "dst", s->dst);
	ev_kint(&e, "dport", get16(s->th + 2));
	ev_key(&e, "tcp_flags");
	ev_flags(&e, s->th[13], tcp_flag_names);
	ev_kuint(&e, "tcp_seq", get32(s->th + 4));
	ev_kuint(&e, "tcp_ack", get32(s->th + 8));
	ev_kint(&e, "win", get16(s->th + 14));
	ev_kint(&e, "len", (long long)s->len);
	ev_end(&e);
}

static void flag_text(unsigned f, char *out, size_t cap)
{
	out[0] = '\0';
	for (const flagname_t *t = tcp_flag_names; t->name; t++)
		if (f & t->bit) {
			if (out[0])
				strncat(out, "|", cap - strlen(out) - 1);
			strncat(out, t->name, cap - strlen(out) - 1);
		}
	if (!out[0])
		snprintf(out, cap, "0");
}

/* The received segment as the step's value: relative numbers, options by name. */
static void segment_value(ev_t *e, const seg_t *s)
{
	const unsigned char *th = s->th;
	char flags[64], opts[128] = "", sack[160] = "";
	flag_text(th[13], flags, sizeof flags);
	ev_key(e, "value");
	ev_obj_open(e);
	ev_kstr(e, "flags", flags);
	ev_kint(e, "seq", (long long)(uint32_t)(get32(th + 4) - P.k_isn));
	ev_kint(e, "ack", th[13] & 0x10 ? (long long)(uint32_t)(get32(th + 8) - PEER_ISN) : 0);
	ev_kint(e, "win", get16(th + 14));
	ev_kint(e, "len", (long long)s->len);
	for (size_t i = 20; i < s->doff;) {
		unsigned kind = th[i];
		const char *name = NULL;
		if (kind == 0)
			break;
		if (kind == 1) {
			name = "nop";
			i++;
		} else {
			if (i + 1 >= s->doff || th[i + 1] < 2 || i + th[i + 1] > s->doff)
				break;
			size_t ol = th[i + 1];
			const unsigned char *o = th + i;
			if (kind == 2 && ol == 4) {
				name = "mss";
				ev_kint(e, "mss", get16(o + 2));
			} else if (kind == 3 && ol == 3) {
				name = "wscale";
				ev_kint(e, "wscale", o[2]);
			} else if (kind == 4) {
				name = "sackOK";
			} else if (kind == 8 && ol == 10) {
				name = "TS";
				P.k_ts = get32(o + 2);
				ev_kuint(e, "ts_val", get32(o + 2));
				ev_kuint(e, "ts_ecr", get32(o + 6));
			} else if (kind == 5) {
				name = "sack";
				for (size_t b = 2; b + 8 <= ol; b += 8) {
					char one[32];
					snprintf(one, sizeof one, "%s%u:%u", sack[0] ? " " : "",
						 get32(o + b) - PEER_ISN, get32(o + b + 4) - PEER_ISN);
					strncat(sack, one, sizeof sack - strlen(sack) - 1);
				}
			} else {
				name = "other";
			}
			i += ol;
		}
		if (opts[0])
			strncat(opts, ",", sizeof opts - strlen(opts) - 1);
		strncat(opts, name, sizeof opts - strlen(opts) - 1);
	}
	ev_kstr(e, "options", opts[0] ? opts : "none");
	if (sack[0])
		ev_kstr(e, "sack", sack);
	ev_obj_close(e);
}

static int peer_handle(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	if (slot < 0)
		return -1;
	if (slot != P.slot) {
		cmd_error(c, "'%.31s' is not the packet peer's tun handle", c->args[0]);
		return -1;
	}
	return slot;
}

/*
 * The path is ready when a datagram the kernel sends to the peer's address
 * comes out of the tun. Until the link watcher has run after the carrier
 * came on (the attach), the device keeps its noop qdisc and drops what is
 * sent: a SYN sent then would be lost. So a UDP datagram to the discard
 * port is sent every 20 ms until one is read back (at most 3 s); returns
 * how long that took, or -1.
 */
static int64_t path_ready(int fd, int family, const unsigned char *paddr)
{
	static unsigned char buf[PKT_MAX];
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(9);
		memcpy(&a->sin_addr, paddr, 4);
		len = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(9);
		memcpy(&a->sin6_addr, paddr, 16);
		len = sizeof *a;
	}
	int u = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u < 0)
		return -1;
	int64_t start = mono_ns(), found = -1;
	for (int round = 0; round < 150 && found < 0; round++) {
		(void)sendto(u, "sockspec", 8, MSG_DONTWAIT, (struct sockaddr *)&ss, len);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		ssize_t n;
		while (found < 0 && (n = read(fd, buf, sizeof buf)) > 0) {
			int udp = family == AF_INET ? n >= 28 && buf[0] >> 4 == 4 && buf[9] == IPPROTO_UDP &&
					  memcmp(buf + 16, paddr, 4) == 0
				 : n >= 48 && buf[0] >> 4 == 6 && buf[6] == IPPROTO_UDP && memcmp(buf + 24, paddr, 16) == 0;
			if (udp)
				found = mono_ns() - start;
		}
	}
	/* what else came out meanwhile (router solicitations, more datagrams) is not the scenario's */
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(u);
	return found;
}

/*
 * tun_open H <ifname> <inet|inet6> <peer address> <port> [<kernel address> <kernel port>]
 * With the kernel's address and port the peer opens the connection itself
 * (a SYN to a listener); its ISN is then learned from the SYN-ACK.
 */
void op_tun_open(const cmd_t *c)
{
	struct ifreq ifr;
	int family;
	long long port;
	if (cmd_new_handle(c, 0) < 0)
		return;
	if (P.slot >= 0) {
		cmd_error(c, "this probe already has a packet peer");
		return;
	}
	if (strlen(c->args[1]) >= IFNAMSIZ) {
		cmd_error(c, "interface name too long");
		return;
	}
	if (strcmp(c->args[2], "inet") == 0)
		family = AF_INET;
	else if (strcmp(c->args[2], "inet6") == 0)
		family = AF_INET6;
	else {
		cmd_error(c, "family must be inet or inet6");
		return;
	}
	if (inet_pton(family, c->args[3], P.paddr) != 1) {
		cmd_error(c, "bad %s address", c->args[2]);
		return;
	}
	if (cmd_int(c, c->args[4], "port", 1, 65535, &port) < 0)
		return;
	unsigned char kaddr[16];
	long long kport = 0;
	if (c->nargs == 6) {
		cmd_error(c, "the kernel's address needs its port");
		return;
	}
	if (c->nargs > 6 && (inet_pton(family, c->args[5], kaddr) != 1 || cmd_int(c, c->args[6], "kernel port", 1, 65535, &kport) < 0)) {
		if (kport == 0 && inet_pton(family, c->args[5], kaddr) != 1)
			cmd_error(c, "bad %s address", c->args[2]);
		return;
	}

	int64_t t0, t1;
	int fd, err;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", c->args[1]);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	t0 = mono_ns();
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	err = fd < 0 ? errno : 0;
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		close(fd);
		fd = -1;
	}
	int64_t ready_ns = -1;
	if (fd >= 0) {
		P.family = family;
		ready_ns = path_ready(fd, family, P.paddr);
		if (ready_ns < 0) {
			close(fd);
			fd = -1;
			err = ETIMEDOUT;
		}
	}
	t1 = mono_ns();

	ev_t e;
	ev_begin(&e, c->step, "tun_open");
	if (ready_ns >= 0)
		ev_kint(&e, "ready_us", ready_ns / 1000);
	ev_kstr(&e, "if", c->args[1]);
	if (fd >= 0) {
		P.pport = (uint16_t)port;
		P.learned = kport != 0;
		P.isn_known = 0;
		P.k_isn = 0;
		P.nhist = 0;
		P.last_len = 0;
		if (kport) {
			P.kport = (uint16_t)kport;
			memcpy(P.kaddr, kaddr, (size_t)alen());
		}
		P.ts_val = 1000;
		snprintf(P.ifname, sizeof P.ifname, "%s", c->args[1]);
		ev_new_handle(&e, c->args[0], fd);
		P.slot = handle_find(c->args[0]);
		/* the address the kernel reaches the peer at: `to: H` resolves to it */
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof ss);
		if (family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			a->sin_family = AF_INET;
			a->sin_port = htons((uint16_t)port);
			memcpy(&a->sin_addr, P.paddr, 4);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			a->sin6_family = AF_INET6;
			a->sin6_port = htons((uint16_t)port);
			memcpy(&a->sin6_addr, P.paddr, 16);
		}
		ev_key(&e, "addr");
		ev_addr(&e, (struct sockaddr *)&ss, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	}
	ev_result(&e, t0, t1, fd, err);
	ev_end(&e);
}

static int parse_u32(const cmd_t *c, const char *v, const char *what, uint32_t *out)
{
	long long x;
	if (cmd_int(c, v, what, -2147483648LL, 4294967295LL, &x) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* opts:mss:1460,sackOK,TS[:val:ecr],nop,wscale:7,eol -> raw option bytes, padded with EOL. */
static int build_options(const cmd_t *c, const char *spec, unsigned char *o, size_t *n)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", spec);
	*n = 0;
	for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		char *a1 = strchr(it, ':'), *a2 = NULL;
		if (a1) {
			*a1++ = '\0';
			if ((a2 = strchr(a1, ':')))
				*a2++ = '\0';
		}
		uint32_t v1 = 0, v2 = 0;
		if (a1 && parse_u32(c, a1, it, &v1) < 0)
			return -1;
		if (a2 && parse_u32(c, a2, it, &v2) < 0)
			return -1;
		size_t need = strcmp(it, "mss") == 0 ? 4 : strcmp(it, "wscale") == 0 ? 3 : strcmp(it, "sackOK") == 0 ? 2
			: strcmp(it, "TS") == 0 ? 10 : strcmp(it, "nop") == 0 || strcmp(it, "eol") == 0 ? 1 : 0;
		if (!need) {
			cmd_error(c, "unknown TCP option '%.20s' (mss, wscale, sackOK, TS, nop, eol)", it);
			return -1;
		}
		if (*n + need > OPT_MAX) {
			cmd_error(c, "TCP options longer than 40 bytes");
			return -1;
		}
		unsigned char *p = o + *n;
		if (strcmp(it, "mss") == 0) {
			p[0] = 2; p[1] = 4; put16(p + 2, a1 ? v1 : 1460);
		} else if (strcmp(it, "wscale") == 0) {
			p[0] = 3; p[1] = 3; p[2] = (unsigned char)v1;
		} else if (strcmp(it, "sackOK") == 0) {
			p[0] = 4; p[1] = 2;
		} else if (strcmp(it, "TS") == 0) {
			/* no values: the peer's own clock and the kernel's latest value as echo */
			p[0] = 8; p[1] = 10;
			put32(p + 2, a1 ? v1 : P.ts_val++);
			put32(p + 6, a2 ? v2 : P.k_ts);
		} else {
			p[0] = strcmp(it, "nop") == 0 ? 1 : 0;
		}
		*n += need;
	}
	while (*n % 4)
		o[(*n)++] = 0;
	return 0;
}

/* Writes an IP packet to the tun; 0 or errno. */
static int tun_write(const unsigned char *pkt, size_t n)
{
	ssize_t w = write(handle_fd(P.slot), pkt, n);
	return w < 0 ? errno : (size_t)w == n ? 0 : EMSGSIZE;
}

/*
 * packet_send H [flags:F] [seq:N] [ack:N] [win:N] [opts:...] [len:N] [data:TEXT] [urg:N]
 * Numbers are relative: seq to PEER_ISN, ack to the kernel's ISN.
 */
void op_packet_send(const cmd_t *c)
{
	static unsigned char pkt[PKT_MAX];
	unsigned char opt[OPT_MAX];
	unsigned long flags = 0x10;
	uint32_t seq = 0, ack = 0, win = 65535, len = 0, urg = 0;
	size_t olen = 0;
	const char *data = NULL;
	int have_ack = 0;
	if (peer_handle(c) < 0)
		return;
	if (!P.learned) {
		cmd_error(c, "the packet peer has not seen the kernel's SYN yet (packet_expect it first, or tun_open with `to`)");
		return;
	}
	for (int i = 1; i < c->nargs; i++) {
		const char *a = c->args[i];
		const char *v = strchr(a, ':');
		if (!v) {
			cmd_error(c, "segment field '%.40s' is not name:value", a);
			return;
		}
		size_t k = (size_t)(v++ - a);
#define IS(name) (k == strlen(name) && strncmp(a, name, k) == 0)
		if (IS("flags")) {
			if (cmd_flags(c, v, tcp_flag_defs, "flags", &flags) < 0)
				return;
		} else if (IS("seq")) {
			if (parse_u32(c, v, "seq", &seq) < 0)
				return;
		} else if (IS("ack")) {
			if (parse_u32(c, v, "ack", &ack) < 0)
				return;
			have_ack = 1;
		} else if (IS("win")) {
			if (parse_u32(c, v, "win", &win) < 0 || win > 65535) {
				if (win > 65535)
					cmd_error(c, "win above 65535");
				return;
			}
		} else if (IS("urg")) {
			if (parse_u32(c, v, "urg", &urg) < 0)
				return;
		} else if (IS("len")) {
			if (parse_u32(c, v, "len", &len) < 0 || len > PAYLOAD_MAX) {
				if (len > PAYLOAD_MAX)
					cmd_error(c, "len above %d", PAYLOAD_MAX);
				return;
			}
		} else if (IS("data")) {
			data = v;
		} else if (IS("opts")) {
			if (build_options(c, v, opt, &olen) < 0)
				return;
		} else {
			cmd_error(c, "unknown segment field '%.*s'", (int)k, a);
			return;
		}
#undef IS
	}
	if (data && !len)
		len = (uint32_t)strlen(data);
	if (data && strlen(data) != len) {
		cmd_error(c, "len and data disagree");
		return;
	}
	if (have_ack && (flags & 0x10) && !P.isn_known) {
		cmd_error(c, "ack is relative to the kernel's ISN, unknown before its SYN or SYN-ACK was read");
		return;
	}

	size_t l4 = 20 + olen + len;
	size_t off = ip_header(pkt, IPPROTO_TCP, l4);
	unsigned char *th = pkt + off;
	memset(th, 0, 20);
	put16(th, P.pport);
	put16(th + 2, P.kport);
	put32(th + 4, PEER_ISN + seq);
	put32(th + 8, flags & 0x10 ? P.k_isn + ack : 0);
	th[12] = (unsigned char)((20 + olen) / 4 << 4);
	th[13] = (unsigned char)flags;
	put16(th + 14, win);
	put16(th + 18, urg);
	memcpy(th + 20, opt, olen);
	for (uint32_t i = 0; i < len; i++)
		th[20 + olen + i] = data ? (unsigned char)data[i] : (unsigned char)('a' + i % 26);
	put16(th + 16, l4_sum(P.paddr, P.kaddr, IPPROTO_TCP, th, l4));

	int64_t t0 = mono_ns();
	int err = tun_write(pkt, off + l4);
	int64_t t1 = mono_ns();
	seg_t s;
	memset(&s, 0, sizeof s);
	s.ip = pkt;
	s.th = th;
	s.doff = 20 + olen;
	s.len = len;
	s.family = P.family;
	inet_ntop(P.family, P.paddr, s.src, sizeof s.src);
	inet_ntop(P.family, P.kaddr, s.dst, sizeof s.dst);

	ev_t e;
	ev_begin(&e, c->step, "packet_send");
	ev_kstr(&e, "h", c->args[0]);
	ev_result(&e, t0, t1, err ? -1 : (long long)(off + l4), err);
	ev_end(&e);
	if (!err)
		wire_event(c->step, t0, &s);
}

/*
 * Reads the next segment for this peer within ms; 0, ETIMEDOUT or errno.
 * With skip_retx, a timer's segment that raced the script is passed over
 * and counted: a repeat (flags, seq, length) of a SYN, FIN or data segment
 * among the last HIST read, or a window/keepalive probe.
 */
static int next_segment(int ms, int skip_retx, unsigned char *buf, seg_t *s, int64_t *at, int *skipped)
{
	int64_t deadline = mono_ns() + (int64_t)ms * 1000000;
	int fd = handle_fd(P.slot);
	for (int reads = 0; reads < 10000; reads++) {
		ssize_t n = read(fd, buf, PKT_MAX);
		if (n < 0 && errno != EAGAIN)
			return errno;
		if (n > 0) {
			/* anything else (router solicitations, MLD) is not this connection's */
			if (parse(buf, (size_t)n, s) != 0)
				continue;
			int syn = (s->th[13] & 0x12) == 0x02;
			if (syn) {
				P.learned = 1;
				P.isn_known = 1;
				P.k_isn = get32(s->th + 4);
				P.kport = (uint16_t)get16(s->th);
				memcpy(P.kaddr, P.family == AF_INET ? s->ip + 12 : s->ip + 8, (size_t)alen());
			} else if (!P.learned || get16(s->th) != P.kport) {
				continue;
			} else if (!P.isn_known && (s->th[13] & 0x12) == 0x12) {
				/* the peer opened: the listener's SYN-ACK carries the kernel's ISN */
				P.isn_known = 1;
				P.k_isn = get32(s->th + 4);
			}
			/* a repeat of what occupies sequence space (SYN, FIN, data), or a window or
			 * keepalive probe (a bare ACK at snd_una - 1, below what was sent); never
			 * a plain ACK at snd_nxt, which a duplicate ACK repeats */
			int repeat = 0;
			for (int h = 0; h < HIST && h < P.nhist; h++)
				repeat |= P.hist[h].flags == s->th[13] && P.hist[h].seq == get32(s->th + 4) &&
					  P.hist[h].len == s->len;
			int occupies = (s->th[13] & 0x03) || s->len > 0;
			int probe = P.k_high_set && s->th[13] == 0x10 && s->len == 0 &&
				    (int32_t)(get32(s->th + 4) - P.k_high) < 0;
			if (skip_retx && ((repeat && occupies) || probe)) {
				(*skipped)++;
				continue;
			}
			/* a RST's seq is whatever ack it answers, not what the kernel sent */
			if (!(s->th[13] & 0x04)) {
				uint32_t end = get32(s->th + 4) + (uint32_t)s->len + ((s->th[13] & 0x03) ? 1U : 0U);
				if (!P.k_high_set || (int32_t)(end - P.k_high) > 0)
					P.k_high = end;
				P.k_high_set = 1;
			}
			P.hist[P.nhist % HIST] = (struct seen){ s->th[13], get32(s->th + 4), s->len };
			P.nhist++;
			*at = mono_ns();
			memcpy(P.last, buf, s->iplen);
			P.last_len = s->iplen;
			return 0;
		}
		int64_t left = deadline - mono_ns();
		if (left <= 0)
			return ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left_ms = (int)((left + 999999) / 1000000);
		if (poll(&pfd, 1, left_ms) < 0 && errno != EINTR)
			return errno;
	}
	return ETIMEDOUT;
}

/* packet_expect H <within_ms> [skip-retransmits]: the next segment the kernel sends to the peer, field by field. */
void op_packet_expect(const cmd_t *c)
{
	static unsigned char buf[PKT_MAX];
	long long ms;
	int skip = 0, skipped = 0;
	if (peer_handle(c) < 0 || cmd_int(c, c->args[1], "within_ms", 0, 600000, &ms) < 0)
		return;
	if (c->nargs > 2) {
		if (strcmp(c->args[2], "skip-retransmits") != 0) {
			cmd_error(c, "unknown packet_expect flag '%.30s'", c->args[2]);
			return;
		}
		skip = 1;
	}
	seg_t s;
	int64_t t0 = mono_ns(), at = 0;
	int err = next_segment((int)ms, skip, buf, &s, &at, &skipped);
	int64_t t1 = mono_ns();
	ev_t e;
	ev_begin(&e, c->step, "packet_expect");
	ev_kstr(&e, "h", c->args[0]);
	if (skipped)
		ev_kint(&e, "skipped", skipped);
	if (!err)
		segment_value(&e, &s);
	ev_result(&e, t0, t1, err ? -1 : 1, err);
	ev_end(&e);
	if (!err)
		wire_event(c->step, at, &s);
}

/*
 * ICMP kinds: IPv4 type/code, IPv6 type/code (-1: no such message in that
 * family). tcp_v4_err and tcp_v6_err differ in what they act on: IPv4
 * ignores source quench and unreachable codes above 15, IPv6 takes every
 * error type through icmpv6_err_convert, and ICMPv6 packet too big below
 * 1280 is dropped while IPv4 clamps a small MTU to ip_rt_min_pmtu.
 */
static const struct {
	const char *name;
	int t4, c4, t6, c6;
} icmp_kinds[] = {
	{ "port", 3, 3, 1, 4 },          /* port unreachable */
	{ "host", 3, 1, 1, 3 },          /* host / address unreachable */
	{ "net", 3, 0, 1, 0 },           /* net unreachable / no route */
	{ "proto", 3, 2, -1, -1 },       /* protocol unreachable (IPv4 only) */
	{ "admin", 3, 13, 1, 1 },        /* administratively prohibited */
	{ "frag", 3, 4, 2, 0 },          /* fragmentation needed / packet too big: the mtu argument */
	{ "beyond-scope", -1, -1, 1, 2 }, /* beyond scope of source address (IPv6 only) */
	{ "policy", -1, -1, 1, 5 },      /* source address failed ingress/egress policy (IPv6 only) */
	{ "reject-route", -1, -1, 1, 6 }, /* reject route to destination (IPv6 only) */
	{ "ttl", 11, 0, 3, 0 },          /* time exceeded in transit */
	{ "param", 12, 0, 4, 0 },        /* parameter problem (pointer 0) */
	{ "quench", 4, 0, -1, -1 },      /* source quench (IPv4 only, RFC 6633 deprecated it) */
	{ NULL, 0, 0, 0, 0 },
};

/* The ICMP message as a captured one (capture.c's shape): on the wire lane, matchable by `icmp`. */
static void icmp_wire_event(const char *step, int64_t t, int v4, int type, int code, uint32_t mtu, const unsigned char *quoted)
{
	char name_buf[48], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], osrc[INET6_ADDRSTRLEN], odst[INET6_ADDRSTRLEN];
	const char *name = v4 ? icmp4_name((unsigned)type, (unsigned)code, name_buf, sizeof name_buf)
			      : icmp6_name((unsigned)type, (unsigned)code, name_buf, sizeof name_buf);
	size_t ql4 = v4 ? (size_t)(quoted[0] & 15) * 4 : 40;
	inet_ntop(P.family, P.paddr, src, sizeof src);
	inet_ntop(P.family, P.kaddr, dst, sizeof dst);
	inet_ntop(P.family, v4 ? quoted + 12 : quoted + 8, osrc, sizeof osrc);
	inet_ntop(P.family, v4 ? quoted + 16 : quoted + 24, odst, sizeof odst);
	ev_t e;
	ev_begin(&e, step, "icmp");
	ev_kint(&e, "t0", t);
	ev_kstr(&e, "if", P.ifname);
	ev_kstr(&e, "family", v4 ? "inet" : "inet6");
	ev_kstr(&e, "src", src);
	ev_kstr(&e, "dst", dst);
	ev_kstr(&e, "icmp", name ? name : "unknown");
	ev_kint(&e, "icmp_type", type);
	ev_kint(&e, "icmp_code", code);
	if ((v4 && type == 3 && code == 4) || (!v4 && type == 2))
		ev_kuint(&e, "mtu", mtu);
	ev_kstr(&e, "orig_proto", "tcp");
	ev_kstr(&e, "orig_src", osrc);
	ev_kint(&e, "orig_sport", get16(quoted + ql4));
	ev_kstr(&e, "orig_dst", odst);
	ev_kint(&e, "orig_dport", get16(quoted + ql4 + 2));
	ev_kuint(&e, "orig_tcp_seq", get32(quoted + ql4 + 4));
	ev_end(&e);
}

/* icmp_send H <kind> [mtu]: an ICMP error from the peer's address quoting the kernel's last segment. */
void op_icmp_send(const cmd_t *c)
{
	static unsigned char pkt[PKT_MAX];
	long long mtu = 0;
	int k;
	if (peer_handle(c) < 0)
		return;
	for (k = 0; icmp_kinds[k].name && strcmp(icmp_kinds[k].name, c->args[1]) != 0; k++)
		;
	if (!icmp_kinds[k].name) {
		cmd_error(c, "unknown ICMP kind '%.20s' (port, host, net, proto, admin, frag, beyond-scope, policy, reject-route, ttl, param, quench)",
			  c->args[1]);
		return;
	}
	int v4 = P.family == AF_INET;
	int type = v4 ? icmp_kinds[k].t4 : icmp_kinds[k].t6, code = v4 ? icmp_kinds[k].c4 : icmp_kinds[k].c6;
	if (type < 0) {
		cmd_error(c, "ICMP kind '%s' has no %s form", c->args[1], v4 ? "IPv4" : "IPv6");
		return;
	}
	if (c->nargs > 2 && cmd_int(c, c->args[2], "mtu", 68, 65535, &mtu) < 0)
		return;
	if (mtu && strcmp(c->args[1], "frag") != 0) {
		cmd_error(c, "mtu goes with frag only");
		return;
	}
	if (!P.last_len) {
		cmd_error(c, "the kernel has sent no segment to quote yet");
		return;
	}
	/* RFC 792 quotes the IP header + 8 bytes; RFC 4443 as much as fits in 1280 */
	size_t quote = v4 ? (size_t)(P.last[0] & 15) * 4 + 8 : P.last_len;
	if (quote > P.last_len)
		quote = P.last_len;
	if (!v4 && quote > 1280 - 48)
		quote = 1280 - 48;
	size_t l4 = 8 + quote;
	size_t off = ip_header(pkt, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, l4);
	unsigned char *ic = pkt + off;
	memset(ic, 0, 8);
	ic[0] = (unsigned char)type;
	ic[1] = (unsigned char)code;
	if (mtu)
		v4 ? put16(ic + 6, (uint32_t)mtu) : put32(ic + 4, (uint32_t)mtu);
	memcpy(ic + 8, P.last, quote);
	put16(ic + 2, v4 ? fold(sum16(ic, l4, 0)) : l4_sum(P.paddr, P.kaddr, IPPROTO_ICMPV6, ic, l4));

	int64_t t0 = mono_ns();
	int err = tun_write(pkt, off + l4);
	int64_t t1 = mono_ns();
	ev_t e;
	char name_buf[48];
	const char *name = v4 ? icmp4_name((unsigned)type, (unsigned)code, name_buf, sizeof name_buf)
			      : icmp6_name((unsigned)type, (unsigned)code, name_buf, sizeof name_buf);
	ev_begin(&e, c->step, "icmp_send");
	ev_kstr(&e, "h", c->args[0]);
	ev_kstr(&e, "icmp", name ? name : "unknown");
	ev_kint(&e, "icmp_type", type);
	ev_kint(&e, "icmp_code", code);
	ev_result(&e, t0, t1, err ? -1 : (long long)(off + l4), err);
	ev_end(&e);
	if (!err)
		icmp_wire_event(c->step, t0, v4, type, code, (uint32_t)mtu, P.last);
}
