/*
 * optable.gen.h - GENERATED from the op table (harness/ops/) by
 * harness/ops/generate.ts (npm run gen). Do not edit: change the op
 * definitions and regenerate. test/probe.ts fails when this is stale.
 */
#ifndef SOCKSPEC_OPTABLE_GEN_H
#define SOCKSPEC_OPTABLE_GEN_H

#include "command.h"

/* Command handlers. */
void op_socket(const cmd_t *c);
void op_bind(const cmd_t *c);
void op_listen(const cmd_t *c);
void op_connect(const cmd_t *c);
void op_connect_unspec(const cmd_t *c);
void op_accept4(const cmd_t *c);
void op_shutdown(const cmd_t *c);
void op_close(const cmd_t *c);
void op_getsockname(const cmd_t *c);
void op_getpeername(const cmd_t *c);
void op_fcntl(const cmd_t *c);
void op_ioctl(const cmd_t *c);
void op_send(const cmd_t *c);
void op_sendstr(const cmd_t *c);
void op_sendto(const cmd_t *c);
void op_recv(const cmd_t *c);
void op_recvfrom(const cmd_t *c);
void op_recvmsg(const cmd_t *c);
void op_sendfd(const cmd_t *c);
void op_recvfd(const cmd_t *c);
void op_take_sigpipe(const cmd_t *c);
void op_setsockopt(const cmd_t *c);
void op_getsockopt(const cmd_t *c);
void op_epoll_create1(const cmd_t *c);
void op_epoll_ctl(const cmd_t *c);
void op_epoll_wait(const cmd_t *c);
void op_poll(const cmd_t *c);
void op_gate(const cmd_t *c);
void op_ungate(const cmd_t *c);
void op_sleep(const cmd_t *c);
void op_wait_blocked(const cmd_t *c);
void op_abort(const cmd_t *c);
void op_socketpair(const cmd_t *c);
void op_ppoll(const cmd_t *c);
void op_select(const cmd_t *c);
void op_epoll_pwait2(const cmd_t *c);
void op_dup(const cmd_t *c);
void op_close_keep(const cmd_t *c);
void op_open(const cmd_t *c);
void op_epoll_fdinfo(const cmd_t *c);
void op_drop_cap(const cmd_t *c);
void op_setrlimit(const cmd_t *c);
void op_mib(const cmd_t *c);
void op_uring_setup(const cmd_t *c);
void op_uring_poll_add(const cmd_t *c);
void op_uring_connect(const cmd_t *c);
void op_uring_accept(const cmd_t *c);
void op_uring_recv(const cmd_t *c);
void op_uring_cancel(const cmd_t *c);
void op_uring_poll_remove(const cmd_t *c);
void op_uring_wait(const cmd_t *c);
void op_tun_open(const cmd_t *c);
void op_packet_send(const cmd_t *c);
void op_packet_expect(const cmd_t *c);
void op_icmp_send(const cmd_t *c);
void op_share(const cmd_t *c);
void op_pidfd_getfd(const cmd_t *c);
void op_netns(const cmd_t *c);
void op_capture(const cmd_t *c);
void op_hosts(const cmd_t *c);
void op_hostnet(const cmd_t *c);
void op_reset(const cmd_t *c);

/* Dispatch (main.c): X(name, handler, min_args, max_args, usage); max -1: unbounded. */
#define OPTABLE_COMMANDS(X) \
	X("socket", op_socket, 3, 5, "socket H <inet|inet6|unix> <stream|dgram|seqpacket> [tcp|mptcp|udp|0] [nonblock|cloexec]") \
	X("bind", op_bind, 3, 4, "bind H <addr>") \
	X("listen", op_listen, 2, 2, "listen H <backlog>") \
	X("connect", op_connect, 3, 4, "connect H <addr>") \
	X("connect_unspec", op_connect_unspec, 1, 1, "connect_unspec H") \
	X("accept4", op_accept4, 2, 3, "accept4 H NEW [nonblock|cloexec]") \
	X("shutdown", op_shutdown, 2, 2, "shutdown H <rd|wr|rdwr>") \
	X("close", op_close, 1, 1, "close H") \
	X("getsockname", op_getsockname, 1, 1, "getsockname H") \
	X("getpeername", op_getpeername, 1, 1, "getpeername H") \
	X("fcntl", op_fcntl, 2, 3, "fcntl H getfl | fcntl H setfl <flags> | fcntl H nonblock <0|1>") \
	X("ioctl", op_ioctl, 2, 2, "ioctl H <SIOCINQ|SIOCOUTQ|SIOCOUTQNSD|EPIOCGPARAMS>") \
	X("send", op_send, 2, 3, "send H <nbytes> [msg flags]") \
	X("sendstr", op_sendstr, 2, 3, "sendstr H <text> [msg flags]") \
	X("sendto", op_sendto, 4, 6, "sendto H <nbytes> <addr> [msg flags]") \
	X("recv", op_recv, 2, 3, "recv H <nbytes> [msg flags]") \
	X("recvfrom", op_recvfrom, 2, 3, "recvfrom H <nbytes> [msg flags]") \
	X("recvmsg", op_recvmsg, 2, 3, "recvmsg H <nbytes> [msg flags]") \
	X("sendfd", op_sendfd, 2, 3, "sendfd H FDH [msg flags]") \
	X("recvfd", op_recvfd, 2, 3, "recvfd H NEW [msg flags]") \
	X("take_sigpipe", op_take_sigpipe, 0, 0, "take_sigpipe") \
	X("setsockopt", op_setsockopt, 4, 4, "setsockopt H <socket|tcp|ip|ipv6|mptcp> <OPT> <value>") \
	X("getsockopt", op_getsockopt, 3, 3, "getsockopt H <socket|tcp|ip|ipv6|mptcp> <OPT>") \
	X("epoll_create1", op_epoll_create1, 1, 2, "epoll_create1 E [cloexec]") \
	X("epoll_ctl", op_epoll_ctl, 3, 4, "epoll_ctl E <add|mod|del> H [events]") \
	X("epoll_wait", op_epoll_wait, 3, 3, "epoll_wait E <maxevents> <timeout_ms>") \
	X("poll", op_poll, 1, -1, "poll <timeout_ms> H:<events> [H:<events> ...]") \
	X("gate", op_gate, 2, -1, "gate H <class> [class...]") \
	X("ungate", op_ungate, 1, 1, "ungate H") \
	X("sleep", op_sleep, 1, 1, "sleep <ms>") \
	X("wait_blocked", op_wait_blocked, 2, 2, "wait_blocked <pid> <timeout_ms>") \
	X("abort", op_abort, 0, 0, "abort") \
	X("socketpair", op_socketpair, 3, 4, "socketpair H1 H2 <stream|dgram|seqpacket> [nonblock|cloexec]") \
	X("ppoll", op_ppoll, 1, -1, "ppoll <timeout_ms> H:<events> [H:<events> ...]") \
	X("select", op_select, 2, -1, "select <timeout_ms> H:<read|write|except> [H:<sets> ...]") \
	X("epoll_pwait2", op_epoll_pwait2, 3, 3, "epoll_pwait2 E <maxevents> <timeout_ms>") \
	X("dup", op_dup, 2, 2, "dup H NEW") \
	X("close_keep", op_close_keep, 1, 1, "close_keep H") \
	X("open", op_open, 2, 2, "open NEW <absolute path>") \
	X("epoll_fdinfo", op_epoll_fdinfo, 1, 1, "epoll_fdinfo E") \
	X("drop_cap", op_drop_cap, 1, 1, "drop_cap <CAP_BLOCK_SUSPEND>") \
	X("setrlimit", op_setrlimit, 2, 2, "setrlimit <NOFILE> <limit>") \
	X("mib", op_mib, 1, 2, "mib <mark> [since]") \
	X("uring_setup", op_uring_setup, 2, 2, "uring_setup R <entries>") \
	X("uring_poll_add", op_uring_poll_add, 5, 5, "uring_poll_add R H <events> <0|multishot> <ud>") \
	X("uring_connect", op_uring_connect, 5, 6, "uring_connect R H <ud> <addr>") \
	X("uring_accept", op_uring_accept, 5, 5, "uring_accept R H NEW <0|multishot> <ud>") \
	X("uring_recv", op_uring_recv, 4, 4, "uring_recv R H <bytes> <ud>") \
	X("uring_cancel", op_uring_cancel, 3, 3, "uring_cancel R <target ud> <ud>") \
	X("uring_poll_remove", op_uring_poll_remove, 3, 3, "uring_poll_remove R <target ud> <ud>") \
	X("uring_wait", op_uring_wait, 3, 3, "uring_wait R <ud|-> <timeout_ms>") \
	X("tun_open", op_tun_open, 5, 7, "tun_open H <ifname> <inet|inet6> <peer address> <port> [<kernel address> <kernel port>]") \
	X("packet_send", op_packet_send, 1, 9, "packet_send H [flags:F] [seq:N] [ack:N] [win:N] [urg:N] [len:N] [data:TEXT] [opts:mss:1460,sackOK,TS,nop,wscale:7]") \
	X("packet_expect", op_packet_expect, 2, 3, "packet_expect H <within_ms> [skip-retransmits]") \
	X("icmp_send", op_icmp_send, 2, 3, "icmp_send H <port|host|net|proto|admin|frag|beyond-scope|policy|reject-route|ttl|param|quench> [mtu]") \
	X("share", op_share, 1, 1, "share H") \
	X("pidfd_getfd", op_pidfd_getfd, 3, 3, "pidfd_getfd NEW <pid> <fd>") \
	X("netns", op_netns, 1, 1, "netns <name|/path>") \
	X("capture", op_capture, 1, 16, "capture IFNAME [IFNAME...]") \
	X("hosts", op_hosts, 0, 0, "hosts") \
	X("hostnet", op_hostnet, 3, 3, "hostnet IFNAME ADDR4/LEN ADDR6/LEN") \
	X("reset", op_reset, 0, 1, "reset [DIR]") \
	X("quit", NULL, 0, 0, "quit") \
	/* end */

/* Name tables: X(name, value). FLAGDEF_ makes a flagdef_t row of one. */
#define FLAGDEF_(name, value) { name, (unsigned long)(value) },

#define OPTABLE_MSG_FLAGS(X) \
	X("dontwait", MSG_DONTWAIT) \
	X("peek", MSG_PEEK) \
	X("waitall", MSG_WAITALL) \
	X("nosignal", MSG_NOSIGNAL) \
	X("oob", MSG_OOB) \
	X("more", MSG_MORE) \
	X("trunc", MSG_TRUNC) \
	X("fastopen", MSG_FASTOPEN) \
	X("confirm", MSG_CONFIRM) \
	X("eor", MSG_EOR) \
	X("errqueue", MSG_ERRQUEUE) \
	X("zerocopy", MSG_ZEROCOPY) \
	/* end */

#define OPTABLE_FAMILIES(X) \
	X("inet", AF_INET) \
	X("inet6", AF_INET6) \
	X("unix", AF_UNIX) \
	/* end */

#define OPTABLE_TYPES(X) \
	X("stream", SOCK_STREAM) \
	X("dgram", SOCK_DGRAM) \
	X("seqpacket", SOCK_SEQPACKET) \
	/* end */

#define OPTABLE_PROTOS(X) \
	X("tcp", IPPROTO_TCP) \
	X("mptcp", IPPROTO_MPTCP) \
	X("udp", IPPROTO_UDP) \
	X("0", 0) \
	/* end */

#define OPTABLE_SOCK_FLAGS(X) \
	X("nonblock", SOCK_NONBLOCK) \
	X("cloexec", SOCK_CLOEXEC) \
	/* end */

#define OPTABLE_SHUT_HOW(X) \
	X("rd", SHUT_RD) \
	X("wr", SHUT_WR) \
	X("rdwr", SHUT_RDWR) \
	/* end */

#define OPTABLE_SETFL_FLAGS(X) \
	X("nonblock", O_NONBLOCK) \
	X("append", O_APPEND) \
	X("async", O_ASYNC) \
	X("direct", O_DIRECT) \
	X("noatime", O_NOATIME) \
	/* end */

#define OPTABLE_EPOLL_EVENTS(X) \
	X("in", EPOLLIN) \
	X("out", EPOLLOUT) \
	X("rdhup", EPOLLRDHUP) \
	X("pri", EPOLLPRI) \
	X("err", EPOLLERR) \
	X("hup", EPOLLHUP) \
	X("et", EPOLLET) \
	X("oneshot", EPOLLONESHOT) \
	X("wakeup", EPOLLWAKEUP) \
	X("exclusive", EPOLLEXCLUSIVE) \
	X("rdnorm", EPOLLRDNORM) \
	X("rdband", EPOLLRDBAND) \
	X("wrnorm", EPOLLWRNORM) \
	X("wrband", EPOLLWRBAND) \
	X("msg", EPOLLMSG) \
	/* end */

#define OPTABLE_EPOLL_CREATE_FLAGS(X) \
	X("cloexec", EPOLL_CLOEXEC) \
	/* end */

#define OPTABLE_EPOLL_CTL_OPS(X) \
	X("add", EPOLL_CTL_ADD) \
	X("mod", EPOLL_CTL_MOD) \
	X("del", EPOLL_CTL_DEL) \
	/* end */

#define OPTABLE_POLL_EVENTS(X) \
	X("in", POLLIN) \
	X("out", POLLOUT) \
	X("pri", POLLPRI) \
	X("rdhup", POLLRDHUP) \
	X("rdnorm", POLLRDNORM) \
	X("rdband", POLLRDBAND) \
	X("wrnorm", POLLWRNORM) \
	X("wrband", POLLWRBAND) \
	/* end */

#define OPTABLE_GATE_CLASSES(X) \
	X("syn", G_SYN) \
	X("synack", G_SYNACK) \
	X("ack", G_ACK) \
	X("data", G_DATA) \
	X("fin", G_FIN) \
	X("rst", G_RST) \
	X("all", G_ALL) \
	/* end */

#define OPTABLE_IOCTL_REQUESTS(X) \
	X("SIOCINQ", SIOCINQ) \
	X("SIOCOUTQ", SIOCOUTQ) \
	X("SIOCOUTQNSD", SIOCOUTQNSD) \
	X("EPIOCGPARAMS", EPIOCGPARAMS) \
	/* end */

#define OPTABLE_SELECT_SETS(X) \
	X("read", 1) \
	X("write", 2) \
	X("except", 4) \
	/* end */

#define OPTABLE_CAPS(X) \
	X("CAP_BLOCK_SUSPEND", CAP_BLOCK_SUSPEND) \
	/* end */

#define OPTABLE_RLIMITS(X) \
	X("NOFILE", RLIMIT_NOFILE) \
	/* end */

/* Socket option levels (options.c): X(arg, reported name, level). */
#define OPTABLE_LEVELS(X) \
	X("socket", "SOL_SOCKET", SOL_SOCKET) \
	X("tcp", "SOL_TCP", IPPROTO_TCP) \
	X("ip", "SOL_IP", IPPROTO_IP) \
	X("ipv6", "SOL_IPV6", IPPROTO_IPV6) \
	X("mptcp", "SOL_MPTCP", SOL_MPTCP) \
	/* end */

/* Socket options (options.c): X(level arg, OPTION, kind). */
#define OPTABLE_OPTIONS(X) \
	X("socket", SO_ERROR, K_ERROR) \
	X("socket", SO_REUSEADDR, K_INT) \
	X("socket", SO_REUSEPORT, K_INT) \
	X("socket", SO_KEEPALIVE, K_INT) \
	X("socket", SO_LINGER, K_LINGER) \
	X("socket", SO_RCVBUF, K_INT) \
	X("socket", SO_SNDBUF, K_INT) \
	X("socket", SO_RCVLOWAT, K_INT) \
	X("socket", SO_SNDLOWAT, K_INT) \
	X("socket", SO_RCVTIMEO, K_TIMEO) \
	X("socket", SO_SNDTIMEO, K_TIMEO) \
	X("socket", SO_TYPE, K_INT) \
	X("socket", SO_DOMAIN, K_INT) \
	X("socket", SO_PROTOCOL, K_INT) \
	X("socket", SO_ACCEPTCONN, K_INT) \
	X("socket", SO_OOBINLINE, K_INT) \
	X("socket", SO_BROADCAST, K_INT) \
	X("socket", SO_PEEK_OFF, K_INT) \
	X("socket", SO_BUSY_POLL_BUDGET, K_INT) \
	X("socket", SO_PREFER_BUSY_POLL, K_INT) \
	X("socket", SO_BUF_LOCK, K_INT) \
	X("socket", SO_RESERVE_MEM, K_INT) \
	X("socket", SO_RCVMARK, K_INT) \
	X("socket", SO_PASSPIDFD, K_INT) \
	X("socket", SO_PEERPIDFD, K_INT) \
	X("socket", SO_PASSRIGHTS, K_INT) \
	X("socket", SO_ZEROCOPY, K_INT) \
	X("socket", SO_TIMESTAMPING, K_INT) \
	X("tcp", TCP_NODELAY, K_INT) \
	X("tcp", TCP_MAXSEG, K_INT) \
	X("tcp", TCP_CORK, K_INT) \
	X("tcp", TCP_KEEPIDLE, K_INT) \
	X("tcp", TCP_KEEPINTVL, K_INT) \
	X("tcp", TCP_KEEPCNT, K_INT) \
	X("tcp", TCP_SYNCNT, K_INT) \
	X("tcp", TCP_LINGER2, K_INT) \
	X("tcp", TCP_DEFER_ACCEPT, K_INT) \
	X("tcp", TCP_WINDOW_CLAMP, K_INT) \
	X("tcp", TCP_INFO, K_TCPINFO) \
	X("tcp", TCP_QUICKACK, K_INT) \
	X("tcp", TCP_USER_TIMEOUT, K_INT) \
	X("tcp", TCP_FASTOPEN, K_INT) \
	X("tcp", TCP_FASTOPEN_CONNECT, K_INT) \
	X("tcp", TCP_NOTSENT_LOWAT, K_INT) \
	X("tcp", TCP_CONGESTION, K_STRING) \
	X("tcp", TCP_RTO_MAX_MS, K_INT) \
	X("tcp", TCP_IS_MPTCP, K_INT) \
	X("ip", IP_TTL, K_INT) \
	X("ip", IP_TOS, K_INT) \
	X("ip", IP_RECVERR, K_INT) \
	X("ip", IP_FREEBIND, K_INT) \
	X("ip", IP_TRANSPARENT, K_INT) \
	X("ip", IP_LOCAL_PORT_RANGE, K_INT) \
	X("ipv6", IPV6_V6ONLY, K_INT) \
	X("ipv6", IPV6_RECVERR, K_INT) \
	X("ipv6", IPV6_UNICAST_HOPS, K_INT) \
	X("mptcp", MPTCP_INFO, K_MPTCPINFO) \
	/* end */

#endif
