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

static int wait_local(int fd, int ifindex, const char *cidr);
static void wait_oper_up(int fd, int ifindex);

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
	else if ((ret = wait_local(fd, ifindex, c->args[2])) < 0)
		what = "inet6 address not yet local";
	if (ret == 0)
		wait_oper_up(fd, ifindex);
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
#include <linux/if_tun.h>
#include <linux/veth.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>


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
	/* the static probe (a guest's helper) has no loader: nft(8) runs the gates */
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

/* nft(8) on this system, for when libnftables cannot be loaded (the static probe), or NULL. */
static const char *nft_program(void)
{
	static const char *const where[] = { "/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft" };

	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/*
 * `nft -f -` as a child that joins the namespace (nsfd) first: what the
 * harness would do as `ip netns exec NS nft -f -`, without the ip process
 * and, in a guest, the control port's shell round trip. stdout and stderr
 * both go to msg (the helper's stdout carries the protocol). Returns 0, or
 * a positive errno: EINVAL when nft refused the script, ENOSYS when it did
 * not run (the harness then tries its own way).
 */
static int nft_child(const char *prog, int nsfd, const char *script, char *msg, size_t msglen)
{
	int in[2], out[2], status = 0;
	size_t got = 0, len = strlen(script);
	pid_t pid;

	msg[0] = '\0';
	if (pipe2(in, O_CLOEXEC) < 0)
		return snprintf(msg, msglen, "pipe"), errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		int err = errno;
		close(in[0]);
		close(in[1]);
		return snprintf(msg, msglen, "pipe"), err;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)"nft", (char *)"-f", (char *)"-", NULL };

		if (setns(nsfd, CLONE_NEWNET) < 0 || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
			_exit(126);
		execv(prog, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		int err = errno;
		close(in[1]);
		close(out[0]);
		return snprintf(msg, msglen, "fork"), err;
	}
	/* the kit's scripts are far below a pipe's buffer; nft reads all of its input before it answers */
	for (size_t off = 0; off < len;) {
		ssize_t n = write(in[1], script + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(in[1]);
	for (;;) {
		char buf[512];
		ssize_t n = read(out[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && got + 1 < msglen; i++)
			msg[got++] = buf[i] == '\n' ? ' ' : buf[i];
	}
	msg[got] = '\0';
	close(out[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 126 && !got) {
		snprintf(msg, msglen, "%s did not run", prog);
		return ENOSYS;
	}
	return EINVAL;
}

/*
 * Runs script inside namespace ns with a context made there (its netlink
 * socket belongs to the namespace it is opened in), then goes back home.
 * Without libnftables (the static probe: a guest's helper) nft(8) runs it,
 * as a child inside the namespace. ENOSYS: neither is here (the harness
 * then runs nft itself).
 */
static void helper_nft(const char *step, const char *ns, const char *script, int home)
{
	int64_t t0 = mono_ns();
	char path[256], msg[512];
	int fd, rc;
	const char *prog = NULL;

	if (!ns_name_ok(ns))
		return helper_event(step, "nft", ns, t0, -1, EINVAL, "bad namespace name");
	if (nft_load() < 0 && !(prog = nft_program()))
		return helper_event(step, "nft", ns, t0, -1, ENOSYS, nft.why);
	snprintf(path, sizeof path, NS_DIR "/%s", ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return helper_event(step, "nft", ns, t0, -1, errno, "no such namespace");
	if (prog) {
		int err = nft_child(prog, fd, script, msg, sizeof msg);
		close(fd);
		return helper_event(step, "nft", ns, t0, err ? -1 : 0, err, msg);
	}
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

/*
 * `TOKEN ip NS|- BYTES` + BYTES of lines: the lines of one `ip -batch`
 * (topology.ts writes them), done here over rtnetlink instead of by an ip
 * process, inside NS (`-`: where the helper lives). Only the line shapes
 * the kit writes are known; a batch with any other line is refused whole
 * (ENOTSUP) before anything runs, and the harness gives it to ip. Like ip
 * without -force, the first failing line ends the batch. One more shape,
 * `sysctl NS PATH VALUE`, writes a /proc/sys file inside NS.
 */
struct nlmsg {
	struct nlmsghdr nh;
	char body[2048];
};

static void *nl_put(struct nlmsg *m, const void *data, size_t len)
{
	char *at = (char *)m + NLMSG_ALIGN(m->nh.nlmsg_len);

	if (data)
		memcpy(at, data, len);
	else
		memset(at, 0, len);
	m->nh.nlmsg_len = (unsigned)(NLMSG_ALIGN(m->nh.nlmsg_len) + NLMSG_ALIGN(len));
	return at;
}

static struct rtattr *nl_attr(struct nlmsg *m, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)m + NLMSG_ALIGN(m->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	m->nh.nlmsg_len = (unsigned)(NLMSG_ALIGN(m->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len));
	return rta;
}

/* A fresh request: the header, then the message's family header (ifinfomsg, rtmsg). */
static void nl_begin(struct nlmsg *m, unsigned short type, unsigned short flags, unsigned seq,
		     const void *family_hdr, size_t len)
{
	memset(m, 0, sizeof *m);
	m->nh.nlmsg_len = NLMSG_HDRLEN;
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_flags = flags;
	m->nh.nlmsg_seq = seq;
	nl_put(m, family_hdr, len);
}

static void nl_nest_end(struct nlmsg *m, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)m + m->nh.nlmsg_len - (char *)nest);
}

/*
 * Waits (at most ~2 s) until the IPv6 address cidr routes as local. Even
 * without DAD (and without the tentative flag) the kernel adds an address's
 * local route later, in a worker (addrconf_dad_work): a connect to the
 * host's own address before that goes out eth0 to neighbour discovery and
 * fails 3 s later with "address unreachable" (seen under load). Asks what
 * `ip route get ADDR` asks. Returns 0, or -ETIMEDOUT.
 */
static int wait_local(int fd, int ifindex, const char *cidr)
{
	unsigned char want[16];
	char text[64];
	const char *slash = strchr(cidr, '/');

	(void)ifindex;
	if (!slash || (size_t)(slash - cidr) >= sizeof text)
		return 0;
	memcpy(text, cidr, (size_t)(slash - cidr));
	text[slash - cidr] = '\0';
	if (inet_pton(AF_INET6, text, want) != 1)
		return 0;
	for (int round = 0; round < 2000; round++) {
		struct nlmsg m;
		struct rtmsg r = { .rtm_family = AF_INET6, .rtm_dst_len = 128 };
		char buf[4096];
		int local = 0, answered = 0;

		nl_begin(&m, RTM_GETROUTE, NLM_F_REQUEST, 1000u + (unsigned)round, &r, sizeof r);
		nl_attr(&m, RTA_DST, want, 16);
		if (send(fd, &m, m.nh.nlmsg_len, 0) < 0)
			return 0;
		while (!answered) {
			ssize_t n = recv(fd, buf, sizeof buf, 0);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return 0;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
				if (h->nlmsg_seq != m.nh.nlmsg_seq)
					continue;
				answered = 1;
				if (h->nlmsg_type == RTM_NEWROUTE)
					local = ((struct rtmsg *)NLMSG_DATA(h))->rtm_type == RTN_LOCAL;
			}
		}
		if (local)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

/*
 * Waits (at most ~2 s) until the link watcher has seen ifindex's carrier:
 * its operstate UP. Until then the device keeps its noop qdisc and the
 * bridge port of its veth peer is not forwarding, so a first ARP, neighbour
 * solicitation or SYN would be lost (and a connect would wait for the
 * retransmission). On a fast machine it has run by now; in an emulated
 * guest, configured right before the scenario's first step, it may not
 * have. Without it, the scenario runs all the same (as before this wait).
 */
/* RFC 2863's "up" (linux/if.h, which clashes with net/if.h) */
#define OPER_UP 6

static void wait_oper_up(int fd, int ifindex)
{
	for (int round = 0; round < 2000; round++) {
		struct nlmsg m;
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
		char buf[8192];
		int oper = -1, answered = 0;

		nl_begin(&m, RTM_GETLINK, NLM_F_REQUEST, 5000u + (unsigned)round, &ifi, sizeof ifi);
		if (send(fd, &m, m.nh.nlmsg_len, 0) < 0)
			return;
		while (!answered) {
			ssize_t n = recv(fd, buf, sizeof buf, 0);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
				if (h->nlmsg_seq != m.nh.nlmsg_seq)
					continue;
				answered = 1;
				if (h->nlmsg_type != RTM_NEWLINK)
					continue;
				int len = (int)IFLA_PAYLOAD(h);
				for (struct rtattr *a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, len); a = RTA_NEXT(a, len))
					if (a->rta_type == IFLA_OPERSTATE)
						oper = *(unsigned char *)RTA_DATA(a);
			}
		}
		if (oper == OPER_UP)
			return;
		usleep(1000);
	}
}

static int nl_talk(struct nlmsg *m)
{
	static unsigned seq = 100;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ret;

	if (fd < 0)
		return -errno;
	ret = talk(fd, (struct nlreq *)(void *)m, ++seq);
	close(fd);
	return ret;
}

static int ns_open(const char *ns)
{
	char path[256];

	if (!ns_name_ok(ns)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof path, NS_DIR "/%s", ns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* "ifN" is ifindex N (as ip reads it), else a name of the current namespace */
static int ifindex_of(const char *name)
{
	unsigned idx;
	char rest;

	if (sscanf(name, "if%u%c", &idx, &rest) == 1)
		return (int)idx;
	return (int)if_nametoindex(name);
}

/* What `ip netns add` does: a file under /run/netns (a shared mount point,
 * so other mount namespaces see the names) bind-mounted over a new
 * namespace's handle; the helper goes back home afterwards. */
static int netns_add(const char *ns, int home, const char **what)
{
	static int dir_ready;
	char path[256];
	int fd, made = 0;

	if (!ns_name_ok(ns))
		return *what = "bad namespace name", -EINVAL;
	if (!dir_ready) {
		if (mkdir(NS_DIR, 0755) < 0 && errno != EEXIST)
			return *what = "mkdir " NS_DIR, -errno;
		while (mount("", NS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
			if (errno != EINVAL || made)
				return *what = "mount --make-rshared " NS_DIR, -errno;
			if (mount(NS_DIR, NS_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
				return *what = "mount --rbind " NS_DIR, -errno;
			made = 1;
		}
		dir_ready = 1;
	}
	snprintf(path, sizeof path, NS_DIR "/%s", ns);
	if ((fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)) < 0)
		return *what = "create the name", -errno;
	close(fd);
	if (unshare(CLONE_NEWNET) < 0) {
		int err = errno;
		unlink(path);
		return *what = "unshare(CLONE_NEWNET)", -err;
	}
	int ret = mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0 ? -errno : 0;
	if (setns(home, CLONE_NEWNET) < 0) {
		/* stranded in the new namespace: nothing more may be done here */
		perror("sockspec-probe hosts: setns (back)");
		exit(1);
	}
	if (ret < 0) {
		unlink(path);
		return *what = "bind mount", ret;
	}
	return 0;
}

/* `link add name N [index I] [netns NS] [up] [master M] type bridge|veth [peer name P netns NS]` */
static int link_add(char **w, int n, int exec, const char **what)
{
	const char *name = NULL, *netns = NULL, *master = NULL, *type = NULL, *peer = NULL, *peerns = NULL;
	int index = 0, up = 0, i = 2;

	while (i < n && !type) {
		if (strcmp(w[i], "up") == 0) {
			up = 1;
			i++;
			continue;
		}
		if (i + 1 >= n)
			return -ENOTSUP;
		if (strcmp(w[i], "name") == 0)
			name = w[i + 1];
		else if (strcmp(w[i], "index") == 0)
			index = atoi(w[i + 1]);
		else if (strcmp(w[i], "netns") == 0)
			netns = w[i + 1];
		else if (strcmp(w[i], "master") == 0)
			master = w[i + 1];
		else if (strcmp(w[i], "type") == 0)
			type = w[i + 1];
		else
			return -ENOTSUP;
		i += 2;
	}
	if (!name || !type || strlen(name) >= IFNAMSIZ)
		return -ENOTSUP;
	if (strcmp(type, "veth") == 0) {
		if (n - i != 5 || strcmp(w[i], "peer") || strcmp(w[i + 1], "name") || strcmp(w[i + 3], "netns"))
			return -ENOTSUP;
		peer = w[i + 2];
		peerns = w[i + 4];
		if (strlen(peer) >= IFNAMSIZ)
			return -ENOTSUP;
	} else if (strcmp(type, "bridge") || i != n) {
		return -ENOTSUP;
	}
	if (!exec)
		return 0;

	struct nlmsg m;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index };
	int nsfd = -1, peerfd = -1, ret;

	if (up) {
		ifi.ifi_flags = IFF_UP;
		ifi.ifi_change = IFF_UP;
	}
	nl_begin(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, &ifi, sizeof ifi);
	nl_attr(&m, IFLA_IFNAME, name, strlen(name) + 1);
	if (netns) {
		if ((nsfd = ns_open(netns)) < 0)
			return *what = "netns", -errno;
		nl_attr(&m, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
	}
	if (master) {
		int mi = ifindex_of(master);
		if (mi <= 0) {
			ret = -ENODEV;
			*what = "master";
			goto out;
		}
		nl_attr(&m, IFLA_MASTER, &mi, sizeof mi);
	}
	struct rtattr *info = nl_attr(&m, IFLA_LINKINFO, NULL, 0);
	nl_attr(&m, IFLA_INFO_KIND, type, strlen(type));
	if (peer) {
		struct rtattr *data = nl_attr(&m, IFLA_INFO_DATA, NULL, 0);
		struct rtattr *p = nl_attr(&m, VETH_INFO_PEER, NULL, 0);
		struct ifinfomsg pifi = { .ifi_family = AF_UNSPEC };

		nl_put(&m, &pifi, sizeof pifi);
		nl_attr(&m, IFLA_IFNAME, peer, strlen(peer) + 1);
		if ((peerfd = ns_open(peerns)) < 0) {
			ret = -errno;
			*what = "peer netns";
			goto out;
		}
		nl_attr(&m, IFLA_NET_NS_FD, &peerfd, sizeof peerfd);
		nl_nest_end(&m, p);
		nl_nest_end(&m, data);
	}
	nl_nest_end(&m, info);
	ret = nl_talk(&m);
	if (ret < 0)
		*what = "RTM_NEWLINK";
out:
	if (nsfd >= 0)
		close(nsfd);
	if (peerfd >= 0)
		close(peerfd);
	return ret;
}

/* `addr add A/L dev D [nodad]` (nodad only for IPv6; hostnet's request) */
static int addr_line(char **w, int n, int exec, const char **what)
{
	if (n < 5 || n > 6 || strcmp(w[3], "dev") || (n == 6 && strcmp(w[5], "nodad")))
		return -ENOTSUP;
	int fam = strchr(w[2], ':') ? AF_INET6 : AF_INET;
	if ((fam == AF_INET6) != (n == 6))
		return -ENOTSUP;   /* hostnet always asks nodad for IPv6, never for IPv4 */
	if (!exec)
		return 0;
	int ifindex = (int)if_nametoindex(w[4]), fd, ret;
	if (!ifindex)
		return *what = "no such device", -ENODEV;
	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
		return *what = "socket", -errno;
	ret = addr_add(fd, ifindex, fam, w[2], 50);
	if (ret == 0 && fam == AF_INET6 && (ret = wait_local(fd, ifindex, w[2])) < 0)
		*what = "inet6 address not yet local";
	close(fd);
	if (ret < 0)
		*what = "RTM_NEWADDR";
	return ret;
}

/* `route add [unreachable|prohibit|blackhole] A/L [via G] [dev D] [src S]` */
static int route_line(char **w, int n, int exec, const char **what)
{
	static const struct { const char *name; unsigned char type; } types[] = {
		{ "unreachable", RTN_UNREACHABLE }, { "prohibit", RTN_PROHIBIT }, { "blackhole", RTN_BLACKHOLE },
	};
	unsigned char type = RTN_UNICAST;
	const char *dst, *via = NULL, *dev = NULL, *src = NULL;
	int i = 2;

	for (size_t k = 0; i < n && k < sizeof types / sizeof types[0]; k++)
		if (strcmp(w[i], types[k].name) == 0) {
			type = types[k].type;
			i++;
			break;
		}
	if (i >= n)
		return -ENOTSUP;
	dst = w[i++];
	for (; i + 1 < n; i += 2) {
		if (strcmp(w[i], "via") == 0)
			via = w[i + 1];
		else if (strcmp(w[i], "dev") == 0)
			dev = w[i + 1];
		else if (strcmp(w[i], "src") == 0)
			src = w[i + 1];
		else
			return -ENOTSUP;
	}
	if (i != n || (type != RTN_UNICAST && (via || dev || src)) || (type == RTN_UNICAST && !dev))
		return -ENOTSUP;

	char text[64];
	unsigned char bin[16], gw[16], pref[16];
	const char *slash = strchr(dst, '/');
	int fam = strchr(dst, ':') ? AF_INET6 : AF_INET, alen = fam == AF_INET ? 4 : 16;
	char *end;
	long len;

	if (!slash || (size_t)(slash - dst) >= sizeof text)
		return -ENOTSUP;
	memcpy(text, dst, (size_t)(slash - dst));
	text[slash - dst] = '\0';
	len = strtol(slash + 1, &end, 10);
	if (*end || len < 0 || len > alen * 8 || inet_pton(fam, text, bin) != 1 || (via && inet_pton(fam, via, gw) != 1) ||
	    (src && inet_pton(fam, src, pref) != 1))
		return -ENOTSUP;
	if (!exec)
		return 0;

	struct nlmsg m;
	struct rtmsg r = {
		.rtm_family = (unsigned char)fam,
		.rtm_dst_len = (unsigned char)len,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT,
		.rtm_type = type,
		/* as ip route add picks it: link scope for an IPv4 unicast
		 * route without a gateway, universe otherwise */
		.rtm_scope = fam == AF_INET && type == RTN_UNICAST && !via ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
	};

	nl_begin(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, 0, &r, sizeof r);
	nl_attr(&m, RTA_DST, bin, (size_t)alen);
	if (via)
		nl_attr(&m, RTA_GATEWAY, gw, (size_t)alen);
	if (src)
		nl_attr(&m, RTA_PREFSRC, pref, (size_t)alen);
	if (dev) {
		int oif = (int)if_nametoindex(dev);
		if (!oif)
			return *what = "no such device", -ENODEV;
		nl_attr(&m, RTA_OIF, &oif, sizeof oif);
	}
	int ret = nl_talk(&m);
	if (ret < 0)
		*what = "RTM_NEWROUTE";
	return ret;
}

/* `tuntap add dev D mode tun`: a persistent TUN device (IFF_TUN|IFF_NO_PI, as ip makes it) */
static int tuntap_line(char **w, int n, int exec, const char **what)
{
	if (n != 6 || strcmp(w[2], "dev") || strcmp(w[4], "mode") || strcmp(w[5], "tun") || strlen(w[3]) >= IFNAMSIZ)
		return -ENOTSUP;
	if (!exec)
		return 0;
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return *what = "open /dev/net/tun", -errno;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", w[3]);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		*what = "TUNSETIFF";
	} else if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		ret = -errno;
		*what = "TUNSETPERSIST";
	}
	close(fd);
	return ret;
}

/* `sysctl NS PATH VALUE`: write a net.* file inside NS (the kit's /proc/sys/net/ paths only) */
static int sysctl_line(char **w, int n, int exec, int home, const char **what, char *why, size_t whylen)
{
	if (n != 4 || strncmp(w[2], "/proc/sys/net/", 14) || strstr(w[2], ".."))
		return -ENOTSUP;
	if (!exec)
		return 0;
	int nsfd = ns_open(w[1]), fd, ret = 0;

	if (nsfd < 0)
		return *what = "netns", -errno;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		ret = -errno;
		close(nsfd);
		return *what = "setns", ret;
	}
	close(nsfd);
	/* /proc/sys/net answers for the namespace of whoever opens it */
	fd = open(w[2], O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, w[3], strlen(w[3])) != (ssize_t)strlen(w[3]))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (setns(home, CLONE_NEWNET) < 0) {
		perror("sockspec-probe hosts: setns (back)");
		exit(1);
	}
	if (ret < 0) {
		/* the marker the harness turns into a skip naming the key */
		snprintf(why, whylen, "sysctl-failed %s", w[2]);
		*what = why;
	}
	return ret;
}

/* One line: 0, -ENOTSUP for a shape not known here, or a negative errno. */
static int ip_line(char *line, int exec, int home, int top, const char **what, char *why, size_t whylen)
{
	char *w[24];
	int n = 0;

	for (char *tok = strtok(line, " \t"); tok; tok = strtok(NULL, " \t")) {
		if (n == 24)
			return -ENOTSUP;
		w[n++] = tok;
	}
	if (n == 0)
		return 0;
	if (n == 3 && strcmp(w[0], "netns") == 0 && strcmp(w[1], "add") == 0 && top)
		return exec ? netns_add(w[2], home, what) : 0;
	if (strcmp(w[0], "sysctl") == 0 && top)
		return sysctl_line(w, n, exec, home, what, why, whylen);
	if (n >= 4 && strcmp(w[0], "link") == 0 && strcmp(w[1], "add") == 0)
		return link_add(w, n, exec, what);
	if (n == 4 && strcmp(w[0], "link") == 0 && strcmp(w[1], "set") == 0 && strcmp(w[3], "up") == 0) {
		if (!exec)
			return 0;
		int idx = (int)if_nametoindex(w[2]), fd, ret;
		if (!idx)
			return *what = "no such device", -ENODEV;
		if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
			return *what = "socket", -errno;
		ret = link_up(fd, idx, 60);
		close(fd);
		if (ret < 0)
			*what = "RTM_NEWLINK";
		return ret;
	}
	if (n >= 3 && strcmp(w[0], "addr") == 0 && strcmp(w[1], "add") == 0)
		return addr_line(w, n, exec, what);
	if (n >= 3 && strcmp(w[0], "route") == 0 && strcmp(w[1], "add") == 0)
		return route_line(w, n, exec, what);
	if (n >= 2 && strcmp(w[0], "tuntap") == 0 && strcmp(w[1], "add") == 0)
		return tuntap_line(w, n, exec, what);
	return -ENOTSUP;
}

static void helper_ip(const char *step, const char *ns, char *lines, int home)
{
	int64_t t0 = mono_ns();
	int top = strcmp(ns, "-") == 0, nsfd = -1, ret = 0, lineno = 0;
	const char *what = "";
	char msg[300], why[280];
	size_t total = strlen(lines);
	char *copy = malloc(total + 1);

	if (!copy)
		return helper_event(step, "ip", ns, t0, -1, ENOMEM, "malloc");
	/* every line must be one the helper knows, before any runs */
	memcpy(copy, lines, total + 1);
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (ip_line(l, 0, home, top, &what, why, sizeof why) == -ENOTSUP) {
			free(copy);
			snprintf(msg, sizeof msg, "line %d: not a line the helper knows", lineno);
			return helper_event(step, "ip", ns, t0, -1, ENOTSUP, msg);
		}
	}
	free(copy);
	if (!top) {
		if ((nsfd = ns_open(ns)) < 0)
			return helper_event(step, "ip", ns, t0, -1, errno, "no such namespace");
		ret = setns(nsfd, CLONE_NEWNET) < 0 ? -errno : 0;
		close(nsfd);
		if (ret < 0)
			return helper_event(step, "ip", ns, t0, -1, -ret, "setns");
	}
	lineno = 0;
	for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l && ret == 0; l = strtok_r(NULL, "\n", &save)) {
		lineno++;
		ret = ip_line(l, 1, home, top, &what, why, sizeof why);
	}
	if (!top && setns(home, CLONE_NEWNET) < 0) {
		perror("sockspec-probe hosts: setns (back)");
		exit(1);
	}
	if (ret < 0)
		snprintf(msg, sizeof msg, "line %d: %s: %s", lineno, what, strerror(-ret));
	helper_event(step, "ip", ns, t0, ret < 0 ? -1 : 0, -ret, ret < 0 ? msg : NULL);
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
		if (nw == 4 && (strcmp(w[1], "nft") == 0 || strcmp(w[1], "ip") == 0)) {
			/* `TOKEN nft NS BYTES` and `TOKEN ip NS|- BYTES`: BYTES of script follow the line */
			char *end;
			long len = strtol(w[3], &end, 10);

			if (*end || len < 0 || len > SCRIPT_MAX) {
				ev_error(w[0], w[1], "bad %s length '%.20s'", w[1][0] == 'n' ? "script" : "batch", w[3]);
				ev_done(w[0], ev_count() - before);
				/* the script's bytes cannot be skipped: stop reading */
				break;
			}
			free(script);
			script = malloc((size_t)len + 1);
			if (!script || fread(script, 1, (size_t)len, stdin) != (size_t)len)
				break;
			script[len] = '\0';
			if (w[1][0] == 'n')
				helper_nft(w[0], w[2], script, home);
			else
				helper_ip(w[0], w[2], script, home);
		} else if (nw >= 3 && strcmp(w[1], "del") == 0) {
			for (int i = 2; i < nw; i++)
				helper_del(w[0], w[i]);
		} else {
			ev_error(nw > 1 ? w[0] : NULL, nw > 1 ? w[1] : w[0], "host helper takes 'TOKEN nft NS BYTES' + script, 'TOKEN ip NS|- BYTES' + lines, 'TOKEN del NS...', 'quit'");
		}
		ev_done(nw > 1 ? w[0] : "", ev_count() - before);
	}
	free(line);
	free(script);
	close(home);
	return 0;
}
