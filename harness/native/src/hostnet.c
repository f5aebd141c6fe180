/*
 * hostnet.c - `hostnet IFNAME ADDR4/LEN ADDR6/LEN`: a probe that joined a
 * simulated host's namespace brings up lo and IFNAME and gives IFNAME its
 * addresses (IPv6 without duplicate address detection), over rtnetlink.
 * The harness would otherwise start one `ip -n NS -batch` per host for the
 * same four requests.
 */
#include "command.h"
#include "event.h"
#include "ops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct nlreq {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
	} u;
	char attrs[64];
};

static void add_attr(struct nlreq *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Sends one request and reads its ack: 0, or the negative errno. */
static int talk(int fd, struct nlreq *r, unsigned seq)
{
	char buf[4096];

	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->nh.nlmsg_seq = seq;
	if (send(fd, r, r->nh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

static int link_up(int fd, int ifindex, unsigned seq)
{
	struct nlreq r;

	memset(&r, 0, sizeof r);
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof r.u.ifi);
	r.nh.nlmsg_type = RTM_NEWLINK;
	r.u.ifi.ifi_family = AF_UNSPEC;
	r.u.ifi.ifi_index = ifindex;
	r.u.ifi.ifi_flags = IFF_UP;
	r.u.ifi.ifi_change = IFF_UP;
	return talk(fd, &r, seq);
}

/* "ADDR/LEN" of family fam on ifindex; -EINVAL when it does not parse. */
static int addr_add(int fd, int ifindex, int fam, const char *cidr, unsigned seq)
{
	char text[64];
	unsigned char bin[16];
	const char *slash = strchr(cidr, '/');
	struct nlreq r;

	if (!slash || (size_t)(slash - cidr) >= sizeof text)
		return -EINVAL;
	memcpy(text, cidr, (size_t)(slash - cidr));
	text[slash - cidr] = '\0';
	char *end;
	long len = strtol(slash + 1, &end, 10);
	if (*end || len < 0 || len > (fam == AF_INET ? 32 : 128) || inet_pton(fam, text, bin) != 1)
		return -EINVAL;
	memset(&r, 0, sizeof r);
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof r.u.ifa);
	r.nh.nlmsg_type = RTM_NEWADDR;
	r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.u.ifa.ifa_family = (unsigned char)fam;
	r.u.ifa.ifa_prefixlen = (unsigned char)len;
	r.u.ifa.ifa_index = (unsigned)ifindex;
	r.u.ifa.ifa_flags = fam == AF_INET6 ? IFA_F_NODAD : 0;
	add_attr(&r, IFA_LOCAL, bin, fam == AF_INET ? 4 : 16);
	add_attr(&r, IFA_ADDRESS, bin, fam == AF_INET ? 4 : 16);
	return talk(fd, &r, seq);
}

void op_hostnet(const cmd_t *c)
{
	int64_t t0 = mono_ns(), t1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int ret = 0, ifindex = 0;
	const char *what = "socket";
	ev_t e;

	if (fd < 0)
		ret = -errno;
	else if (!(ifindex = (int)if_nametoindex(c->args[0]))) {
		ret = -errno;
		what = "if_nametoindex";
	} else if ((ret = link_up(fd, 1, 1)) < 0)
		what = "lo up";
	else if ((ret = link_up(fd, ifindex, 2)) < 0)
		what = "link up";
	else if ((ret = addr_add(fd, ifindex, AF_INET, c->args[1], 3)) < 0)
		what = "inet address";
	else if ((ret = addr_add(fd, ifindex, AF_INET6, c->args[2], 4)) < 0)
		what = "inet6 address";
	if (fd >= 0)
		close(fd);
	t1 = mono_ns();
	ev_begin(&e, c->step, "hostnet");
	ev_kstr(&e, "if", c->args[0]);
	if (ret < 0)
		ev_kstr(&e, "error", what);
	ev_result(&e, t0, t1, ret < 0 ? -1 : 0, -ret);
	ev_end(&e);
}
