/*
 * gates.c - "gate": drop incoming TCP segments of chosen classes with a
 * classic BPF socket filter (SO_ATTACH_FILTER, no privilege needed).
 *
 * Where the filter runs: tcp_v4_rcv() / tcp_v6_rcv() call tcp_filter()
 * -> sk_filter_trim_cap(sk, skb, th->doff * 4) after the socket lookup.
 * At that point the IP header has been pulled (ip_local_deliver_finish /
 * ip6_input_finish), so for BPF_ABS loads offset 0 is the TCP header and
 * BPF_LEN (skb->len) is TCP header + payload. A filter result of 0 drops
 * the segment (SKB_DROP_REASON_SOCKET_FILTER); any other value keeps it
 * (trimmed to max(result, header length), so 0xffffffff keeps it whole).
 *
 * Which socket's filter runs:
 *  - SYN to a listener: the listener's.
 *  - segments for a request socket (TCP_NEW_SYN_RECV, e.g. the final ACK
 *    of the handshake): the listener's (req->rsk_listener), before
 *    tcp_check_req() - so gating "ack" on a listener keeps the connection
 *    out of the accept queue while the client already sees ESTABLISHED.
 *  - everything else: the full socket's own filter. Children created by
 *    the listener inherit its filter at clone time (sk_clone_lock shares
 *    sk_filter), so a gate on a listener also gates sockets accepted from
 *    it while the gate is attached; ungate on the listener does not
 *    affect already-created children.
 *  - TIME_WAIT minisockets have no filter.
 * The classes are meaningful on TCP sockets only; on other sockets the
 * same offsets would be applied to whatever the filter sees.
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>

/* TCP header flag bits (byte 13). */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

enum {
	G_SYN = 1 << 0, G_SYNACK = 1 << 1, G_ACK = 1 << 2, G_DATA = 1 << 3,
	G_FIN = 1 << 4, G_RST = 1 << 5, G_ALL = 1 << 6,
};

static const flagdef_t gate_defs[] = { OPTABLE_GATE_CLASSES(FLAGDEF_) { NULL, 0 } };

#define MAX_INSNS 64
#define DROP_MARK 0xff   /* placeholder jt, patched to jump to "drop" */

typedef struct {
	struct sock_filter insn[MAX_INSNS];
	int n;
} prog_t;

static void emit(prog_t *p, __u16 code, __u8 jt, __u8 jf, __u32 k)
{
	p->insn[p->n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

/*
 * Program layout (M[0] = flags byte, M[1] = payload length):
 *
 *   ldb [13]           ; A = TCP flags
 *   st  M[0]
 *   ldb [12]           ; data offset is the high nibble of byte 12,
 *   and #0xf0          ; in 32-bit words: (b >> 4) * 4 == (b & 0xf0) >> 2
 *   rsh #2
 *   tax                ; X = TCP header length
 *   ld  len            ; A = skb->len = TCP header + payload
 *   sub x
 *   st  M[1]           ; payload length
 *   <one test per class, each jumping to drop on match>
 *   ret #0xffffffff    ; keep
 * drop:
 *   ret #0
 */
static void build(prog_t *p, unsigned mask)
{
	p->n = 0;
	if (mask & G_ALL) {
		emit(p, BPF_RET | BPF_K, 0, 0, 0);
		return;
	}
	emit(p, BPF_LD | BPF_B | BPF_ABS, 0, 0, 13);
	emit(p, BPF_ST, 0, 0, 0);
	emit(p, BPF_LD | BPF_B | BPF_ABS, 0, 0, 12);
	emit(p, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0xf0);
	emit(p, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 2);
	emit(p, BPF_MISC | BPF_TAX, 0, 0, 0);
	emit(p, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
	emit(p, BPF_ALU | BPF_SUB | BPF_X, 0, 0, 0);
	emit(p, BPF_ST, 0, 0, 1);

	if (mask & G_SYN) {        /* SYN && !ACK */
		emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
		emit(p, BPF_ALU | BPF_AND | BPF_K, 0, 0, TH_SYN | TH_ACK);
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, DROP_MARK, 0, TH_SYN);
	}
	if (mask & G_SYNACK) {     /* SYN && ACK */
		emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
		emit(p, BPF_ALU | BPF_AND | BPF_K, 0, 0, TH_SYN | TH_ACK);
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, DROP_MARK, 0, TH_SYN | TH_ACK);
	}
	if (mask & G_FIN) {
		emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
		emit(p, BPF_JMP | BPF_JSET | BPF_K, DROP_MARK, 0, TH_FIN);
	}
	if (mask & G_RST) {
		emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
		emit(p, BPF_JMP | BPF_JSET | BPF_K, DROP_MARK, 0, TH_RST);
	}
	if (mask & G_DATA) {       /* payload length > 0 */
		emit(p, BPF_LD | BPF_MEM, 0, 0, 1);
		emit(p, BPF_JMP | BPF_JGT | BPF_K, DROP_MARK, 0, 0);
	}
	if (mask & G_ACK) {        /* ACK, no SYN/FIN/RST, no payload */
		emit(p, BPF_LD | BPF_MEM, 0, 0, 0);
		emit(p, BPF_ALU | BPF_AND | BPF_K, 0, 0, TH_ACK | TH_SYN | TH_FIN | TH_RST);
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, TH_ACK);   /* else skip 2 */
		emit(p, BPF_LD | BPF_MEM, 0, 0, 1);
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, DROP_MARK, 0, 0);
	}
	emit(p, BPF_RET | BPF_K, 0, 0, 0xffffffffu);
	emit(p, BPF_RET | BPF_K, 0, 0, 0);

	/* Patch jumps to the final "ret #0"; offsets are relative to pc + 1. */
	int drop = p->n - 1;
	for (int i = 0; i < p->n; i++)
		if (BPF_CLASS(p->insn[i].code) == BPF_JMP && p->insn[i].jt == DROP_MARK)
			p->insn[i].jt = (__u8)(drop - i - 1);
}

void op_gate(const cmd_t *c)
{
	unsigned mask = 0;
	int slot = cmd_handle(c, 0);

	if (slot < 0)
		return;
	for (int i = 1; i < c->nargs; i++) {
		unsigned long v;

		if (cmd_keyword(c, c->args[i], gate_defs, "gate class", &v) < 0)
			return;
		mask |= (unsigned)v;
	}

	prog_t p;
	build(&p, mask);
	struct sock_fprog fprog = { .len = (unsigned short)p.n, .filter = p.insn };
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err,
		   setsockopt(handle_fd(slot), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog));
	ev_begin(&e, c->step, "setsockopt");
	ev_kstr(&e, "h", handle_name(slot));
	ev_kstr(&e, "level", "SOL_SOCKET");
	ev_kstr(&e, "opt", "SO_ATTACH_FILTER");
	ev_key(&e, "gate");
	ev_arr_open(&e);
	for (int i = 1; i < c->nargs; i++)
		ev_str(&e, c->args[i]);
	ev_arr_close(&e);
	ev_kint(&e, "insns", p.n);
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}

void op_ungate(const cmd_t *c)
{
	int slot = cmd_handle(c, 0);
	if (slot < 0)
		return;

	int zero = 0;
	int64_t t0, t1;
	int ret, err;
	ev_t e;

	/* ENOENT when no filter is attached (sk_detach_filter). */
	TIMED_CALL(t0, t1, ret, err,
		   setsockopt(handle_fd(slot), SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof zero));
	ev_begin(&e, c->step, "setsockopt");
	ev_kstr(&e, "h", handle_name(slot));
	ev_kstr(&e, "level", "SOL_SOCKET");
	ev_kstr(&e, "opt", "SO_DETACH_FILTER");
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}
