/*
 * dgram.c - commands for datagram and record sockets: socketpair.
 */
#include "handles.h"
#include "ops.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const flagdef_t pair_type_defs[] = { OPTABLE_TYPES(FLAGDEF_) { NULL, 0 } };
static const flagdef_t pair_flag_defs[] = { OPTABLE_SOCK_FLAGS(FLAGDEF_) { NULL, 0 } };

/*
 * socketpair H1 H2 TYPE [flags]: socketpair(AF_UNIX, ...). Event op
 * "socketpair" with "new" (H1) and "new2" (H2); both ends are connected to
 * each other, so unix_dgram_sendmsg's receive-queue limit does not apply
 * between them (unix_peer(other) == sk): only the sender's sk_sndbuf does.
 */
void op_socketpair(const cmd_t *c)
{
	unsigned long type, flags = 0;

	if (cmd_new_handle(c, 0) < 0 || cmd_new_handle(c, 1) < 0 ||
	    cmd_keyword(c, c->args[2], pair_type_defs, "socket type", &type) < 0)
		return;
	if (strcmp(c->args[0], c->args[1]) == 0) {
		cmd_error(c, "socketpair needs two different handle names");
		return;
	}
	if (c->nargs > 3 && cmd_flags(c, c->args[3], pair_flag_defs, "socket", &flags) < 0)
		return;
	int64_t t0, t1;
	int sv[2] = { -1, -1 };
	int ret, err;
	ev_t e;

	TIMED_CALL(t0, t1, ret, err, socketpair(AF_UNIX, (int)(type | flags), 0, sv));
	if (ret == 0) {
		int s0 = handle_add(c->args[0], sv[0]);

		if (s0 < 0 || handle_add(c->args[1], sv[1]) < 0) {
			/* the last free slot went to the first end: give both back */
			if (s0 >= 0)
				handle_forget(s0);
			close(sv[0]);
			close(sv[1]);
			ev_error(c->step, "socketpair", "handle table full: socketpair needs two free handles");
			return;
		}
	}
	ev_begin(&e, c->step, "socketpair");
	if (ret == 0) {
		ev_kstr(&e, "new", c->args[0]);
		ev_kstr(&e, "new2", c->args[1]);
	}
	ev_result(&e, t0, t1, ret, err);
	ev_end(&e);
}
