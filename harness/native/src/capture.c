/*
 * capture.c - "sockspec-probe capture <ifname>...": the packet timeline
 * (PROTOCOL.md, "Capture mode"; DESIGN.md, "Packet timeline").
 *
 * One AF_PACKET/SOCK_DGRAM socket per interface reports every TCP segment
 * the interface transmits (with its decoded options), and every ICMP or
 * ICMPv6 error it transmits about a TCP or UDP packet, as one JSON event
 * each, on the probe's CLOCK_MONOTONIC time line.
 *
 * Why "outgoing only": dev_queue_xmit_nit() hands every transmitted skb to
 * packet taps with pkt_type PACKET_OUTGOING; on lo the same segment comes
 * back through netif_rx() as PACKET_HOST, and on a veth pair each side sees
 * its own sends as outgoing. Keeping PACKET_OUTGOING records each segment
 * exactly once, at its sender, at the moment it was handed to the device.
 *
 * Why SOCK_DGRAM: packet_rcv() then presents the skb from the network
 * header on (for outgoing skbs it pulls the link header), so offset 0 is
 * the IP header on any link type, for the kernel filter and for us.
 *
 * Segments are skbs, not wire frames: with TSO/GSO (lo and veth offer it)
 * one event may carry more than one MSS of payload.
 */
#include "event.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

#define MAX_IFS 16
/* The kernel filter keeps this many bytes of each packet: enough for an
 * IPv4 (<= 60) or IPv6 (40 + a few extension headers) header plus the
 * largest TCP header (60). The real length still arrives in the
 * PACKET_AUXDATA cmsg (tp_len = length before the filter trimmed it). */
#define SNAPLEN 256
/* Asked for; the kernel caps SO_RCVBUF at net.core.rmem_max unless
 * SO_RCVBUFFORCE (CAP_NET_ADMIN) is allowed. A shared lo may carry other
 * scenarios' bulk traffic; each queued skb is charged its truesize. */
#define RCVBUF (8 << 20)
/* Packets read per socket before stdin/stdout get another look. */
#define DRAIN_BATCH 64

/* TCP header byte 13, in bit order (RFC 9293, RFC 3168). */
static const flagname_t tcp_flag_names[] = {
	{ 0x01, "FIN" }, { 0x02, "SYN" }, { 0x04, "RST" }, { 0x08, "PSH" },
	{ 0x10, "ACK" }, { 0x20, "URG" }, { 0x40, "ECE" }, { 0x80, "CWR" },
	{ 0, NULL }
};

typedef struct {
	int fd;
	char name[256];       /* as given: IFNAME or NS:IFNAME */
	const char *ifname;   /* the interface part (in name) */
	int nsfd;             /* NS:IFNAME: the namespace, else -1 (where we started) */
	unsigned ifindex;
} capif_t;

/* Interfaces captured now: those of the command line, then those added by
 * `TOKEN add` (a run-wide capture serving many scenarios' namespaces). */
#define MAX_LIVE 512
static capif_t live[MAX_LIVE];
static int nlive;

/* The step token of the command being answered (`add`), so its error
 * events belong to it; NULL otherwise (capture mode runs no steps). */
static const char *cur_step;

/*
 * "NS:IFNAME" names an interface of another network namespace
 * (/run/netns/NS): one capture process can then serve every namespace of a
 * scenario. Interface names cannot hold ':' (dev_valid_name), so the last
 * ':' splits. An AF_PACKET socket stays bound to the namespace it was made
 * in, so the process only needs to be in it while resolving and opening.
 */
static int split_ns(capif_t *c, const char *arg)
{
	char *colon;
	char path[256];

	c->fd = -1;
	c->nsfd = -1;
	if (strlen(arg) >= sizeof c->name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(c->name, arg);
	colon = strrchr(c->name, ':');
	c->ifname = c->name;
	if (!colon)
		return 0;
	if (colon == c->name || memchr(c->name, '/', (size_t)(colon - c->name)) || colon - c->name > 200) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof path, "/run/netns/%.*s", (int)(colon - c->name), c->name);
	c->ifname = colon + 1;
	c->nsfd = open(path, O_RDONLY | O_CLOEXEC);
	return c->nsfd < 0 ? -1 : 0;
}

/* Enter the interface's namespace (or go back home). */
static int enter_ns(const capif_t *c, int home)
{
	int fd = c->nsfd >= 0 ? c->nsfd : home;

	return fd < 0 ? 0 : setns(fd, CLONE_NEWNET);
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* {"seq":N,"op":"capture","t0":..,"if":..,"error":..,"errno":..}: a problem
 * of the capture itself (no step: capture mode runs no commands). */
static void cap_error(const char *ifname, const char *msg, int err)
{
	char buf[16];
	ev_t e;

	ev_begin(&e, cur_step, "capture");
	ev_kint(&e, "t0", mono_ns());
	if (ifname)
		ev_kstr(&e, "if", ifname);
	ev_kstr(&e, "error", msg);
	if (err)
		ev_kstr(&e, "errno", errno_name(err, buf));
	ev_end(&e);
}

/* Start-up failure: one event (seq 0, no hello was written), exit code 3. */
static int fail(const char *ifname, const char *msg, int err)
{
	cap_error(ifname, msg, err);
	return 3;
}

/*
 * Kernel-side filter, so other traffic on a busy interface is dropped
 * before it is queued (and copied) to us: keep PACKET_OUTGOING IPv4 TCP or
 * ICMP and PACKET_OUTGOING IPv6 whose first next-header is TCP, ICMPv6 or
 * an extension header (the walk is done in user space), trimmed to
 * SNAPLEN. ICMP is rare next to TCP; only error messages (which quote the
 * packet they are about) are reported. The same checks are repeated in
 * user space: packets queued between socket() and the filter, and a
 * BPF-less kernel, must not change the output.
 */
static const struct sock_filter filter_insns[] = {
	/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
	/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 14),
	/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL),
	/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 3),
	/* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),             /* ip->protocol */
	/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 9, 0),
	/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP, 8, 9),
	/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 8),
	/* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),             /* ip6->nexthdr */
	/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 5, 0),
	/* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 4, 0),
	/* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_HOPOPTS, 3, 0),
	/* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ROUTING, 2, 0),
	/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_DSTOPTS, 1, 0),
	/* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_FRAGMENT, 0, 1),
	/* 15 */ BPF_STMT(BPF_RET | BPF_K, SNAPLEN),
	/* 16 */ BPF_STMT(BPF_RET | BPF_K, 0),
};

/*
 * One socket bound to one interface. Opened with protocol 0 (receives
 * nothing) and bound with ETH_P_ALL only after the filter and options are
 * set, so no unfiltered traffic of other interfaces is queued meanwhile.
 */
static int open_one(capif_t *c)
{
	static const int one = 1;
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fail(c->name, "socket(AF_PACKET, SOCK_DGRAM): needs CAP_NET_RAW", errno);
	c->fd = fd;

	struct sock_fprog prog = {
		.len = sizeof filter_insns / sizeof filter_insns[0],
		.filter = (struct sock_filter *)filter_insns,
	};
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
		return fail(c->name, "setsockopt(SO_ATTACH_FILTER)", errno);

	/* skb->tstamp as SCM_TIMESTAMPNS (CLOCK_REALTIME, see read_one). Also
	 * turns on netstamp_needed, without which dev_queue_xmit_nit() leaves
	 * the clone unstamped. */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0)
		return fail(c->name, "setsockopt(SO_TIMESTAMPNS)", errno);
	/* tp_len: the packet length before SNAPLEN trimmed it. */
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0)
		return fail(c->name, "setsockopt(PACKET_AUXDATA)", errno);

	int rcvbuf = RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
		/* EPERM without CAP_NET_ADMIN: the capped request is fine. */
		if (errno != EPERM)
			return fail(c->name, "setsockopt(SO_RCVBUFFORCE)", errno);
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
			return fail(c->name, "setsockopt(SO_RCVBUF)", errno);
	}

	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)c->ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0)
		return fail(c->name, "bind(AF_PACKET)", errno);
	return 0;
}

/* An IP header as parsed: where the layer-4 header starts and what it is. */
typedef struct {
	const char *family;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	unsigned proto;    /* IPPROTO_* of the layer-4 header */
	size_t l4_off;     /* its offset in the packet */
	long long iplen;   /* IP packet length per its header */
} iphdr_t;

/*
 * Parses the IP header of p (caplen bytes present; origlen before
 * trimming). Returns 0, or -1 for anything that is not a first fragment
 * whose layer-4 header starts within caplen. Also used on the packet an
 * ICMP error quotes, which may be cut anywhere after 8 bytes of layer 4.
 */
static int parse_ip(const unsigned char *p, size_t caplen, size_t origlen, iphdr_t *ip)
{
	if (caplen < 1)
		return -1;
	if ((p[0] >> 4) == 4) {
		if (caplen < 20)
			return -1;
		size_t ihl = (size_t)(p[0] & 15) * 4;
		unsigned frag = ((unsigned)p[6] << 8 | p[7]) & 0x1fff;

		if (ihl < 20 || frag != 0)
			return -1;
		ip->proto = p[9];
		ip->l4_off = ihl;
		ip->iplen = (long long)p[2] << 8 | p[3];
		/* BIG TCP GSO packets over 64 KiB carry tot_len 0. */
		if (ip->iplen == 0)
			ip->iplen = (long long)origlen;
		ip->family = "inet";
		inet_ntop(AF_INET, p + 12, ip->src, sizeof ip->src);
		inet_ntop(AF_INET, p + 16, ip->dst, sizeof ip->dst);
	} else if ((p[0] >> 4) == 6) {
		if (caplen < 40)
			return -1;
		unsigned nh = p[6];
		size_t off = 40;
		int more = 1;

		/* Minimal extension header walk (RFC 8200 4.1 order; at most
		 * a few headers fit in SNAPLEN anyway). */
		for (int i = 0; i < 8 && more; i++) {
			switch (nh) {
			case IPPROTO_HOPOPTS:
			case IPPROTO_ROUTING:
			case IPPROTO_DSTOPTS:
				if (off + 8 > caplen)
					return -1;
				nh = p[off];
				off += ((size_t)p[off + 1] + 1) * 8;
				break;
			case IPPROTO_FRAGMENT:
				if (off + 8 > caplen)
					return -1;
				/* Only the first fragment holds the layer-4 header. */
				if ((((unsigned)p[off + 2] << 8 | p[off + 3]) & 0xfff8) != 0)
					return -1;
				nh = p[off];
				off += 8;
				break;
			case IPPROTO_AH:
				if (off + 8 > caplen)
					return -1;
				nh = p[off];
				off += ((size_t)p[off + 1] + 2) * 4;
				break;
			default:
				more = 0;   /* a layer-4 header (or ESP, no next header) */
			}
		}
		if (more)
			return -1;
		ip->proto = nh;
		ip->l4_off = off;
		ip->iplen = ((long long)p[4] << 8 | p[5]) + 40;
		/* BIG TCP IPv6 GSO packets (since 6.x without the jumbo
		 * hop-by-hop header) carry payload_len 0. */
		if (ip->iplen == 40)
			ip->iplen = (long long)origlen;
		ip->family = "inet6";
		inet_ntop(AF_INET6, p + 8, ip->src, sizeof ip->src);
		inet_ntop(AF_INET6, p + 24, ip->dst, sizeof ip->dst);
	} else {
		return -1;
	}
	return ip->l4_off < caplen ? 0 : -1;
}

/* MPTCP option subtypes (RFC 8684 3), by the high nibble of byte 2. */
static const char *const mptcp_subtypes[] = {
	"MP_CAPABLE", "MP_JOIN", "DSS", "ADD_ADDR", "REMOVE_ADDR",
	"MP_PRIO", "MP_FAIL", "MP_FASTCLOSE", "MP_TCPRST",
};

static unsigned long long be32(const unsigned char *b)
{
	return (unsigned long long)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

/*
 * "opts":{...}: the TCP options of o[0..n), decoded as the kernel writes
 * them (tcp_options_write; parsed like tcp_parse_options). Keys in the
 * order met; a repeated kind keeps the last value (arrays gather). A
 * length that runs past the header ends the walk with "bad":"length".
 */
static void write_opts(ev_t *e, const unsigned char *o, size_t n)
{
	unsigned unknown[40];
	int nunknown = 0;
	unsigned mptcp = 0;   /* bit per subtype seen (bit 15: out of range) */

	ev_key(e, "opts");
	ev_obj_open(e);
	for (size_t i = 0; i < n;) {
		unsigned kind = o[i];

		if (kind == 0)   /* end of option list */
			break;
		if (kind == 1) { /* NOP */
			i++;
			continue;
		}
		if (i + 2 > n || o[i + 1] < 2 || i + o[i + 1] > n) {
			ev_key(e, "bad");
			ev_str(e, "length");
			break;
		}
		size_t len = o[i + 1];
		const unsigned char *v = o + i + 2;

		if (kind == 2 && len == 4) {
			ev_kint(e, "mss", (long long)v[0] << 8 | v[1]);
		} else if (kind == 3 && len == 3) {
			ev_kint(e, "wscale", v[0]);
		} else if (kind == 4 && len == 2) {
			ev_key(e, "sackOK");
			ev_bool(e, 1);
		} else if (kind == 5 && len >= 10 && (len - 2) % 8 == 0) {
			ev_key(e, "sack");
			ev_arr_open(e);
			for (size_t b = 0; b + 8 <= len - 2; b += 8) {
				ev_arr_open(e);
				ev_uint(e, be32(v + b));
				ev_uint(e, be32(v + b + 4));
				ev_arr_close(e);
			}
			ev_arr_close(e);
		} else if (kind == 8 && len == 10) {
			ev_key(e, "ts");
			ev_bool(e, 1);
			ev_kuint(e, "tsval", be32(v));
			ev_kuint(e, "tsecr", be32(v + 4));
		} else if (kind == 34 || (kind == 254 && len >= 4 && v[0] == 0xf9 && v[1] == 0x89)) {
			/* Fast Open (RFC 7413; 254 with magic 0xF989 is the
			 * experimental form): the cookie in hex, "" for a request. */
			const unsigned char *c = kind == 34 ? v : v + 2;
			size_t clen = len - (size_t)(c - (o + i));
			char hex[2 * 40 + 1];

			for (size_t k = 0; k < clen; k++)
				snprintf(hex + 2 * k, 3, "%02x", c[k]);
			hex[2 * clen] = '\0';
			ev_kstr(e, kind == 34 ? "tfo" : "tfo_exp", hex);
		} else if (kind == 30 && len >= 3) {
			unsigned st = v[0] >> 4;

			mptcp |= 1u << (st < 9 ? st : 15);
		} else if (kind == 19 && len == 18) {
			ev_key(e, "md5");
			ev_bool(e, 1);
		} else if (kind == 29 && len >= 4) {
			ev_key(e, "ao");
			ev_bool(e, 1);
		} else if (nunknown < 40) {
			unknown[nunknown++] = kind;
		}
		i += len;
	}
	if (mptcp) {
		ev_key(e, "mptcp");
		ev_arr_open(e);
		for (unsigned st = 0; st < 9; st++)
			if (mptcp & (1u << st))
				ev_str(e, mptcp_subtypes[st]);
		if (mptcp & (1u << 15))
			ev_str(e, "unknown");
		ev_arr_close(e);
	}
	if (nunknown) {
		ev_key(e, "unknown");
		ev_arr_open(e);
		for (int k = 0; k < nunknown; k++)
			ev_int(e, unknown[k]);
		ev_arr_close(e);
	}
	ev_obj_close(e);
}

/* One TCP segment's event. */
static void report_tcp(const capif_t *c, const unsigned char *p, size_t caplen,
		       const iphdr_t *ip, int64_t t0)
{
	size_t th_off = ip->l4_off;

	if (th_off + 20 > caplen)
		return;
	const unsigned char *th = p + th_off;
	size_t doff = (size_t)(th[12] >> 4) * 4;
	if (doff < 20)
		return;
	long long len = ip->iplen - (long long)th_off - (long long)doff;
	if (len < 0)
		len = 0;   /* truncated or lying header: never negative */

	ev_t e;
	ev_begin(&e, NULL, "packet");
	ev_kint(&e, "t0", t0);
	ev_kstr(&e, "if", c->name);
	ev_kstr(&e, "family", ip->family);
	ev_kstr(&e, "src", ip->src);
	ev_kint(&e, "sport", (long long)th[0] << 8 | th[1]);
	ev_kstr(&e, "dst", ip->dst);
	ev_kint(&e, "dport", (long long)th[2] << 8 | th[3]);
	ev_key(&e, "tcp_flags");
	ev_flags(&e, th[13], tcp_flag_names);
	ev_kuint(&e, "tcp_seq", be32(th + 4));
	ev_kuint(&e, "tcp_ack", be32(th + 8));
	ev_kint(&e, "win", (long long)th[14] << 8 | th[15]);
	ev_kint(&e, "len", len);
	/* Options only when present (most data segments carry just a
	 * timestamp); a header cut by SNAPLEN is decoded as far as it got. */
	if (doff > 20) {
		size_t have = caplen - th_off < doff ? caplen - th_off : doff;

		if (have > 20)
			write_opts(&e, th + 20, have - 20);
	}
	ev_end(&e);   /* exits if stdout is gone */
}

/*
 * ICMP error names, one per meaning: where both families have the same
 * error it has the same name (ICMPv6 "address unreachable" is
 * dest-unreach/host, as nft's icmpx host-unreachable maps to it), so one
 * expectation serves a scenario's ipv4 and ipv6 variants. The numbers are
 * in icmp_type/icmp_code.
 */
const char *icmp4_name(unsigned type, unsigned code, char *buf, size_t n)
{
	static const char *const unreach[16] = {
		"net", "host", "protocol", "port", "frag-needed", "srcroute-failed",
		"net-unknown", "host-unknown", "host-isolated", "net-prohibited",
		"host-prohibited", "net-tos", "host-tos", "admin-prohibited",
		"host-precedence", "precedence-cutoff",
	};

	switch (type) {
	case 3:
		if (code < 16)
			snprintf(buf, n, "dest-unreach/%s", unreach[code]);
		else
			snprintf(buf, n, "dest-unreach/%u", code);
		return buf;
	case 4:
		return "source-quench";
	case 5:
		snprintf(buf, n, "redirect/%u", code);
		return buf;
	case 11:
		return code == 0 ? "time-exceeded/ttl" : code == 1 ? "time-exceeded/reassembly" : "time-exceeded";
	case 12:
		return "param-problem";
	default:
		return NULL;   /* not an error message: not reported */
	}
}

const char *icmp6_name(unsigned type, unsigned code, char *buf, size_t n)
{
	static const char *const unreach[8] = {
		"net", "admin-prohibited", "beyond-scope", "host", "port",
		"policy-failed", "reject-route", "source-routing-header",
	};

	switch (type) {
	case 1:
		if (code < 8)
			snprintf(buf, n, "dest-unreach/%s", unreach[code]);
		else
			snprintf(buf, n, "dest-unreach/%u", code);
		return buf;
	case 2:
		return "packet-too-big";
	case 3:
		return code == 0 ? "time-exceeded/ttl" : code == 1 ? "time-exceeded/reassembly" : "time-exceeded";
	case 4:
		return "param-problem";
	default:
		return NULL;   /* informational (echo, neighbour discovery) */
	}
}

/*
 * One ICMP or ICMPv6 error message's event: its type and code and the
 * packet it quotes (RFC 792 / RFC 4443: the offending IP header and at
 * least 8 bytes of its payload, enough for the ports). Reported only when
 * the quoted packet is TCP or UDP: the harness files it under the quoted
 * ports, as it files a segment under its own.
 */
static void report_icmp(const capif_t *c, const unsigned char *p, size_t caplen,
			const iphdr_t *ip, int64_t t0)
{
	size_t off = ip->l4_off;
	char buf[48];
	iphdr_t q;

	if (off + 8 > caplen)
		return;
	unsigned type = p[off], code = p[off + 1];
	const char *name = ip->proto == IPPROTO_ICMP ? icmp4_name(type, code, buf, sizeof buf)
						     : icmp6_name(type, code, buf, sizeof buf);
	if (!name)
		return;
	const unsigned char *in = p + off + 8;
	size_t inlen = caplen - off - 8;
	if (parse_ip(in, inlen, inlen, &q) < 0 || (q.proto != IPPROTO_TCP && q.proto != IPPROTO_UDP) ||
	    q.l4_off + 4 > inlen)
		return;
	const unsigned char *l4 = in + q.l4_off;

	ev_t e;
	ev_begin(&e, NULL, "icmp");
	ev_kint(&e, "t0", t0);
	ev_kstr(&e, "if", c->name);
	ev_kstr(&e, "family", ip->family);
	ev_kstr(&e, "src", ip->src);
	ev_kstr(&e, "dst", ip->dst);
	ev_kstr(&e, "icmp", name);
	ev_kint(&e, "icmp_type", type);
	ev_kint(&e, "icmp_code", code);
	/* the next-hop MTU: frag-needed (RFC 1191) and packet-too-big */
	if (ip->proto == IPPROTO_ICMP && type == 3 && code == 4)
		ev_kint(&e, "mtu", (long long)p[off + 6] << 8 | p[off + 7]);
	else if (ip->proto == IPPROTO_ICMPV6 && type == 2)
		ev_kuint(&e, "mtu", be32(p + off + 4));
	ev_kstr(&e, "orig_proto", q.proto == IPPROTO_TCP ? "tcp" : "udp");
	ev_kstr(&e, "orig_src", q.src);
	ev_kint(&e, "orig_sport", (long long)l4[0] << 8 | l4[1]);
	ev_kstr(&e, "orig_dst", q.dst);
	ev_kint(&e, "orig_dport", (long long)l4[2] << 8 | l4[3]);
	if (q.proto == IPPROTO_TCP && q.l4_off + 8 <= inlen)
		ev_kuint(&e, "orig_tcp_seq", be32(l4 + 4));
	ev_end(&e);
}

/*
 * Parses an IP packet (p, caplen bytes captured, origlen before trimming)
 * and writes its event. Anything that is not a complete TCP header of a
 * first fragment, or an ICMP error quoting TCP or UDP, is skipped silently.
 */
static void report(const capif_t *c, const unsigned char *p, size_t caplen,
		   size_t origlen, int64_t t0)
{
	iphdr_t ip;

	if (parse_ip(p, caplen, origlen, &ip) < 0)
		return;
	if (ip.proto == IPPROTO_TCP)
		report_tcp(c, p, caplen, &ip, t0);
	else if ((ip.proto == IPPROTO_ICMP && strcmp(ip.family, "inet") == 0) ||
		 (ip.proto == IPPROTO_ICMPV6 && strcmp(ip.family, "inet6") == 0))
		report_icmp(c, p, caplen, &ip, t0);
}

/*
 * Reads one packet without blocking. Returns 1 if one was read, 0 when the
 * queue is empty, -1 on another error (errno set).
 */
static int read_one(const capif_t *c)
{
	unsigned char pkt[SNAPLEN];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec)) +
			 CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_ll from;
	struct iovec iov = { .iov_base = pkt, .iov_len = sizeof pkt };
	struct msghdr msg = {
		.msg_name = &from, .msg_namelen = sizeof from,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};

	ssize_t n = recvmsg(c->fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;

	/* CLOCK_REALTIME -> CLOCK_MONOTONIC: the offset between the clocks,
	 * sampled now with a monotonic read on either side of the realtime
	 * one (both vDSO, tens of ns). Of three samples the tightest is kept:
	 * a vCPU of an emulated guest can be descheduled between two reads
	 * for milliseconds, which once put a SYN-ACK 1 ms before its SYN.
	 * Exact unless the realtime clock was stepped between the skb stamp
	 * and here. */
	int64_t m2 = 0, offset = 0, best = INT64_MAX;
	for (int k = 0; k < 3; k++) {
		int64_t a = mono_ns();
		int64_t r = real_ns();
		int64_t b = mono_ns();
		if (b - a < best) {
			best = b - a;
			offset = r - (a + (b - a) / 2);
		}
		m2 = b;
	}
	int64_t t0 = m2;   /* fallback: receipt time */

	size_t origlen = (size_t)n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(cm), sizeof ts);
			/* An unstamped skb reads as 0 (netstamp not yet on). */
			if (ts.tv_sec != 0 || ts.tv_nsec != 0) {
				int64_t t = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - offset;
				/* Conversion jitter must not put a packet after
				 * its own receipt or before boot. */
				if (t > m2)
					t = m2;
				t0 = t < 0 ? 0 : t;
			}
		} else if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA &&
			   cm->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
			struct tpacket_auxdata aux;

			memcpy(&aux, CMSG_DATA(cm), sizeof aux);
			origlen = aux.tp_len;
		}
	}

	/* Packets queued before the filter was attached may be anything. */
	if (from.sll_pkttype != PACKET_OUTGOING)
		return 1;
	report(c, pkt, (size_t)n < sizeof pkt ? (size_t)n : sizeof pkt, origlen, t0);
	return 1;
}

/* Reads up to max packets (max < 0: until the queue is empty). */
static void drain(capif_t *c, int max)
{
	for (int i = 0; max < 0 || i < max; i++) {
		int r = read_one(c);

		if (r == 0)
			return;
		if (r < 0) {
			/* sk_err, e.g. ENETDOWN when the interface went down
			 * (packet_notifier); recvmsg reported and cleared it.
			 * Report it and keep capturing: the socket is re-hooked
			 * if the interface comes back up. */
			cap_error(c->name, "recvmsg", errno);
			return;
		}
	}
}

static void print_drops(const capif_t *c)
{
	struct tpacket_stats st;
	socklen_t sl = sizeof st;

	/* Reading the counters resets them; only ever done once, at exit. */
	if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) < 0) {
		perror("sockspec-probe capture: getsockopt(PACKET_STATISTICS)");
		return;
	}
	if (st.tp_drops)
		fprintf(stderr, "sockspec-probe capture: %s: %u packets dropped (receive buffer full)\n",
			c->name, st.tp_drops);
}

/* Reads everything queued on every interface. */
static void drain_all(void)
{
	for (int i = 0; i < nlive; i++)
		drain(&live[i], -1);
}

/* The namespace part of "NS:IFNAME" equals ns (len bytes)? */
static int in_ns(const capif_t *c, const char *ns, size_t len)
{
	const char *colon = strrchr(c->name, ':');

	return colon && (size_t)(colon - c->name) == len && memcmp(c->name, ns, len) == 0;
}

/* Closes live[from..nlive) (a failed add) or one entry (drop, compacting). */
static void close_one(capif_t *c, int report_drops)
{
	if (c->nsfd >= 0)
		close(c->nsfd);
	c->nsfd = -1;
	if (c->fd < 0)
		return;
	if (report_drops)
		print_drops(c);
	if (close(c->fd) < 0)
		perror("sockspec-probe capture: close");
	c->fd = -1;
}

/*
 * Opens names[0..n) as live[nlive..]: every name is resolved before any
 * socket is opened (a typo fails first), then each socket is made inside
 * its namespace, and the process goes back to *home (opened here when first
 * needed). On failure one error event was written, whatever this call
 * opened is closed again and 3 is returned; nlive is then unchanged.
 */
static int open_set(int n, char **names, int *home)
{
	int first = nlive, rc = 0, i;

	if (n > MAX_LIVE - nlive)
		return fail(NULL, "too many interfaces", E2BIG);
	for (i = 0; i < n; i++) {
		capif_t *c = &live[first + i];

		nlive = first + i + 1;
		if (split_ns(c, names[i]) < 0) {
			rc = fail(names[i], "unknown network namespace", errno);
			goto out;
		}
		if (c->nsfd >= 0 && *home < 0 && (*home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
			rc = fail(names[i], "open(/proc/self/ns/net)", errno);
			goto out;
		}
	}
	for (i = first; i < nlive; i++) {
		if (enter_ns(&live[i], *home) < 0) {
			rc = fail(live[i].name, "setns", errno);
			goto out;
		}
		errno = 0;
		live[i].ifindex = if_nametoindex(live[i].ifname);
		if (live[i].ifindex == 0) {
			rc = fail(live[i].name, "unknown interface", errno ? errno : ENODEV);
			goto out;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(live[j].name, live[i].name) == 0 ||
			    (live[j].ifindex == live[i].ifindex && !strchr(live[j].name, ':') &&
			     !strchr(live[i].name, ':'))) {
				rc = fail(live[i].name, "interface listed twice", EINVAL);
				goto out;
			}
	}
	for (i = first; i < nlive; i++) {
		if (enter_ns(&live[i], *home) < 0) {
			rc = fail(live[i].name, "setns", errno);
			goto out;
		}
		if (open_one(&live[i]) != 0) {
			rc = 3;
			goto out;
		}
	}
out:
	if (*home >= 0 && setns(*home, CLONE_NEWNET) < 0 && !rc)
		rc = fail(NULL, "setns (back)", errno);
	/* the namespace handles were needed only to open the sockets (a socket
	 * keeps its namespace); holding them would pin deleted namespaces */
	for (i = first; i < nlive; i++) {
		if (live[i].nsfd >= 0)
			close(live[i].nsfd);
		live[i].nsfd = -1;
		if (rc)
			close_one(&live[i], 0);
	}
	if (rc)
		nlive = first;
	return rc;
}

/*
 * `drop NS...`: reports what the interfaces of those namespaces still have
 * queued, then closes their sockets (before the harness deletes the
 * namespaces: an open packet socket would keep a deleted one alive).
 */
static void drop_ns(int n, char **nss)
{
	for (int i = 0; i < nlive;) {
		int match = 0;

		for (int k = 0; k < n && !match; k++)
			match = in_ns(&live[i], nss[k], strlen(nss[k]));
		if (!match) {
			i++;
			continue;
		}
		drain(&live[i], -1);
		close_one(&live[i], 1);
		live[i] = live[--nlive];
	}
}

/*
 * Reads what stdin has. Returns 1 at EOF or on a "quit" line, else 0.
 * "TOKEN sync" drains every queue and answers {"done":"TOKEN",...}: every
 * segment handed to a device before the line was written is reported before
 * that answer (a run-wide capture shared by many scenarios uses it as the
 * end of one scenario's window). "TOKEN add NS:IF..." starts capturing more
 * interfaces and answers once their sockets are bound (an error event with
 * the token and nothing added, if one cannot be); "TOKEN drop NS..."
 * reports and closes every interface of those namespaces, then answers: a
 * run-wide capture serves each scenario's namespaces that way. Other lines
 * are answered with an error event.
 */
#define MAX_WORDS 34
static int read_stdin(char *line, size_t *len, size_t cap, int *home)
{
	char buf[4096];
	ssize_t n = read(0, buf, sizeof buf);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : 1;
	if (n == 0)
		return 1;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (*len < cap - 1)
				line[(*len)++] = buf[i];
			continue;
		}
		line[*len] = '\0';
		*len = 0;
		/* words, split at blanks (a '\r' before the newline is one) */
		char *w[MAX_WORDS];
		int nw = 0;
		for (char *tok = strtok(line, " \t\r"); tok && nw < MAX_WORDS; tok = strtok(NULL, " \t\r"))
			w[nw++] = tok;
		if (nw == 1 && strcmp(w[0], "quit") == 0)
			return 1;
		if (nw == 2 && strcmp(w[1], "sync") == 0) {
			drain_all();
			ev_done(w[0], 0);
			continue;
		}
		if (nw >= 3 && strcmp(w[1], "add") == 0) {
			unsigned long long before = ev_count();

			cur_step = w[0];
			(void)open_set(nw - 2, w + 2, home);
			cur_step = NULL;
			ev_done(w[0], ev_count() - before);
			continue;
		}
		if (nw >= 3 && strcmp(w[1], "drop") == 0) {
			drop_ns(nw - 2, w + 2);
			ev_done(w[0], 0);
			continue;
		}
		if (nw)
			cap_error(NULL, "capture mode takes only 'TOKEN sync', 'TOKEN add NS:IF...', 'TOKEN drop NS...', 'quit' (or EOF) on stdin", 0);
	}
	return 0;
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
		: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/*
 * "capture --decode HEX...": each argument is one IP packet in hex, decoded
 * as a captured one would be (its event, or nothing when the capture would
 * skip it). Reads a packet from tcpdump -x or a bug report without a live
 * interface, and lets the decoder be tested on packets no kernel sends.
 */
static int decode_main(int n, char **hex)
{
	static capif_t c = { .fd = -1, .name = "decode", .nsfd = -1 };

	c.ifname = c.name;

	for (int i = 0; i < n; i++) {
		unsigned char pkt[SNAPLEN];
		size_t len = 0, digits = strlen(hex[i]);

		if (digits % 2 || digits / 2 > sizeof pkt)
			return fail("decode", "a packet is an even number of hex digits, at most 256 bytes", EINVAL);
		for (size_t k = 0; k < digits; k += 2) {
			int hi = hexval(hex[i][k]), lo = hexval(hex[i][k + 1]);

			if (hi < 0 || lo < 0)
				return fail("decode", "not a hex digit", EINVAL);
			pkt[len++] = (unsigned char)(hi << 4 | lo);
		}
		report(&c, pkt, len, len, 0);
	}
	return 0;
}

/*
 * `capture IFNAME...`, or `capture --empty` for a capture that starts with
 * no interface and is given them with `add` (a run-wide capture of the
 * scenarios' namespaces).
 */
int capture_main(int nif, char **ifnames)
{
	static struct pollfd pfd[2 + MAX_LIVE];
	static char line[8192];
	size_t line_len = 0;
	int rc = 0, home = -1, empty = 0;

	if (nif >= 1 && strcmp(ifnames[0], "--decode") == 0)
		return decode_main(nif - 1, ifnames + 1);
	if (nif == 1 && strcmp(ifnames[0], "--empty") == 0)
		empty = 1;
	else if (nif < 1)
		return fail(NULL, "usage: sockspec-probe capture <ifname> [<ifname>...] | --empty", 0);
	else if (nif > MAX_IFS)
		return fail(NULL, "too many interfaces (at most 16)", E2BIG);

	if (!empty && (rc = open_set(nif, ifnames, &home)) != 0)
		goto out;

	ev_hello(empty ? 0 : nif, ifnames);

	for (;;) {
		/* stdin: commands, quit/EOF. stdout with no events asked: poll
		 * still reports POLLERR (pipe without reader) or POLLHUP
		 * (socket), so a vanished runner is noticed even when no packet
		 * is written. The set changes with add and drop. */
		int n = nlive;

		pfd[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = 1, .events = 0 };
		for (int i = 0; i < n; i++)
			pfd[2 + i] = (struct pollfd){ .fd = live[i].fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)(2 + n), -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("sockspec-probe capture: poll");
			rc = 1;
			goto out;
		}
		/* Packets first: what arrived before quit/EOF is reported. */
		for (int i = 0; i < n; i++)
			if (pfd[2 + i].revents)
				drain(&live[i], DRAIN_BATCH);
		if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			rc = 1;   /* nobody reads us any more */
			goto out;
		}
		if (pfd[0].revents & POLLNVAL) {
			/* stdin closed: treat as EOF */
			break;
		}
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    read_stdin(line, &line_len, sizeof line, &home))
			break;
	}
	/* quit/EOF: whatever is still queued is part of the timeline. */
	drain_all();
	/* The last line: everything captured is written (a runner that cannot
	 * read past its own EOF, such as a vm guest's port, waits for this). */
	{
		ev_t e;

		ev_begin(&e, NULL, "capture_end");
		ev_kint(&e, "t0", mono_ns());
		ev_end(&e);
	}
out:
	if (home >= 0)
		close(home);
	for (int i = 0; i < nlive; i++)
		close_one(&live[i], rc == 0);
	nlive = 0;
	return rc;
}
