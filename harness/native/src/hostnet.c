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

/*
 * Host helper mode: `sockspec-probe hosts`. One process per run does, for
 * every scenario's namespaces, what would otherwise be one `ip` or `nft`
 * process per call: path gates (libnftables, loaded at run time, in the
 * namespace) and namespace deletion (what `ip netns del` does: detach the
 * bind mount, unlink the name). Reads one command per line:
 *
 *   TOKEN nft NS BYTES      then BYTES bytes of nft script, run in NS
 *   TOKEN del NS...         delete each namespace's name
 *
 * and answers each with its events and a done frame. Commands run one at a
 * time, in order.
 */
#include "hostnet.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>


#define NS_DIR "/run/netns"
#define SCRIPT_MAX (1 << 20)

/* A namespace name the kit made: a plain file name under /run/netns. */
static int ns_name_ok(const char *ns)
{
	size_t n = strlen(ns);

	if (n == 0 || n > 200 || ns[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= 'A' && ns[i] <= 'Z') ||
		      (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '-' || ns[i] == '_' || ns[i] == '.'))
			return 0;
	return 1;
}

/* libnftables.so.1, the library behind nft(8): the same parser and
 * netlink code as `nft -f -`, without a process. Its stable C API. */
struct nft_ctx;
static struct {
	int tried;
	void *lib;
	struct nft_ctx *(*ctx_new)(uint32_t flags);
	void (*ctx_free)(struct nft_ctx *ctx);
	int (*buffer_output)(struct nft_ctx *ctx);
	int (*buffer_error)(struct nft_ctx *ctx);
	const char *(*get_error)(struct nft_ctx *ctx);
	int (*run)(struct nft_ctx *ctx, const char *buf);
	char why[200];
} nft;

static int nft_load(void)
{
	if (nft.tried)
		return nft.lib ? 0 : -1;
	nft.tried = 1;
#ifdef SOCKSPEC_STATIC
	/* the static probe (guests, which apply gates with nft) has no loader */
	snprintf(nft.why, sizeof nft.why, "a static probe cannot load libnftables.so.1");
	return -1;
#else
	nft.lib = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!nft.lib) {
		snprintf(nft.why, sizeof nft.why, "%s", dlerror());
		return -1;
	}
	*(void **)&nft.ctx_new = dlsym(nft.lib, "nft_ctx_new");
	*(void **)&nft.ctx_free = dlsym(nft.lib, "nft_ctx_free");
	*(void **)&nft.buffer_output = dlsym(nft.lib, "nft_ctx_buffer_output");
	*(void **)&nft.buffer_error = dlsym(nft.lib, "nft_ctx_buffer_error");
	*(void **)&nft.get_error = dlsym(nft.lib, "nft_ctx_get_error_buffer");
	*(void **)&nft.run = dlsym(nft.lib, "nft_run_cmd_from_buffer");
	if (!nft.ctx_new || !nft.ctx_free || !nft.buffer_output || !nft.buffer_error || !nft.get_error || !nft.run) {
		snprintf(nft.why, sizeof nft.why, "libnftables.so.1 lacks a function of its API");
		dlclose(nft.lib);
		nft.lib = NULL;
		return -1;
	}
	return 0;
#endif
}

/* One event for a helper command: op, ns, t0/t1/ret/errno and, on failure,
 * error (a message for a person). */
static void helper_event(const char *step, const char *op, const char *ns, int64_t t0, int ret, int err,
			 const char *error)
{
	ev_t e;

	ev_begin(&e, step, op);
	ev_kstr(&e, "netns", ns);
	if (ret < 0 && error && *error)
		ev_kstr(&e, "error", error);
	ev_result(&e, t0, mono_ns(), ret, err);
	ev_end(&e);
}

/*
 * Runs script inside namespace ns with a context made there (its netlink
 * socket belongs to the namespace it is opened in), then goes back home.
 * ENOSYS: no libnftables here (the harness then runs nft itself).
 */
static void helper_nft(const char *step, const char *ns, const char *script, int home)
{
	int64_t t0 = mono_ns();
	char path[256], msg[512];
	int fd, rc;

	if (!ns_name_ok(ns))
		return helper_event(step, "nft", ns, t0, -1, EINVAL, "bad namespace name");
	if (nft_load() < 0)
		return helper_event(step, "nft", ns, t0, -1, ENOSYS, nft.why);
	snprintf(path, sizeof path, NS_DIR "/%s", ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return helper_event(step, "nft", ns, t0, -1, errno, "no such namespace");
	rc = setns(fd, CLONE_NEWNET);
	close(fd);
	if (rc < 0)
		return helper_event(step, "nft", ns, t0, -1, errno, "setns");
	struct nft_ctx *ctx = nft.ctx_new(0);
	if (!ctx) {
		rc = -1;
		snprintf(msg, sizeof msg, "nft_ctx_new failed");
	} else {
		/* nothing may reach our stdout: it carries the protocol */
		nft.buffer_output(ctx);
		nft.buffer_error(ctx);
		rc = nft.run(ctx, script) == 0 ? 0 : -1;
		const char *err = nft.get_error(ctx);
		snprintf(msg, sizeof msg, "%s", err ? err : "");
		/* one line: the message as nft prints it, newlines to blanks */
		for (char *p = msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		nft.ctx_free(ctx);
	}
	if (setns(home, CLONE_NEWNET) < 0) {
		/* stranded in a scenario's namespace: nothing more may be done */
		helper_event(step, "nft", ns, t0, -1, errno, "setns (back)");
		ev_done(step, 1);
		exit(1);
	}
	helper_event(step, "nft", ns, t0, rc, rc < 0 ? EINVAL : 0, msg);
}

/* What `ip netns del` does: detach the namespace's bind mount, unlink its
 * name. The namespace itself goes when its last process or socket does. */
static void helper_del(const char *step, const char *ns)
{
	int64_t t0 = mono_ns();
	char path[256];

	if (!ns_name_ok(ns))
		return helper_event(step, "netns_del", ns, t0, -1, EINVAL, "bad namespace name");
	snprintf(path, sizeof path, NS_DIR "/%s", ns);
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return helper_event(step, "netns_del", ns, t0, -1, errno, "umount2");
	if (unlink(path) < 0)
		return helper_event(step, "netns_del", ns, t0, -1, errno, "unlink");
	helper_event(step, "netns_del", ns, t0, 0, 0, NULL);
}

int hosts_main(void)
{
	char *line = NULL, *script = NULL;
	size_t cap = 0;
	ssize_t n;
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (home < 0) {
		ev_error(NULL, "hosts", "open(/proc/self/ns/net): %s", strerror(errno));
		return 3;
	}
	ev_hello(0, NULL);
	ev_batch(1);
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		char *w[40];
		int nw = 0;
		unsigned long long before = ev_count();

		for (char *tok = strtok(line, " \t\r\n"); tok && nw < 40; tok = strtok(NULL, " \t\r\n"))
			w[nw++] = tok;
		if (nw == 0)
			continue;
		if (nw == 1 && strcmp(w[0], "quit") == 0)
			break;
		if (nw == 4 && strcmp(w[1], "nft") == 0) {
			char *end;
			long len = strtol(w[3], &end, 10);

			if (*end || len < 0 || len > SCRIPT_MAX) {
				ev_error(w[0], "nft", "bad script length '%.20s'", w[3]);
				ev_done(w[0], ev_count() - before);
				/* the script's bytes cannot be skipped: stop reading */
				break;
			}
			free(script);
			script = malloc((size_t)len + 1);
			if (!script || fread(script, 1, (size_t)len, stdin) != (size_t)len)
				break;
			script[len] = '\0';
			helper_nft(w[0], w[2], script, home);
		} else if (nw >= 3 && strcmp(w[1], "del") == 0) {
			for (int i = 2; i < nw; i++)
				helper_del(w[0], w[i]);
		} else {
			ev_error(nw > 1 ? w[0] : NULL, nw > 1 ? w[1] : w[0], "host helper takes 'TOKEN nft NS BYTES' + script, 'TOKEN del NS...', 'quit'");
		}
		ev_done(nw > 1 ? w[0] : "", ev_count() - before);
	}
	free(line);
	free(script);
	close(home);
	return 0;
}
