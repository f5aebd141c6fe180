/*
 * command.h - parsing of one protocol command line (see PROTOCOL.md).
 *
 *   <step> <op> [arg ...] [key=value ...]
 *
 * Tokens are whitespace separated, no quoting. The helpers below validate
 * one argument each; on failure they emit the protocol's error event
 * themselves (no syscall made) and return -1, so handlers just return.
 */
#ifndef SOCKSPEC_COMMAND_H
#define SOCKSPEC_COMMAND_H

#include <sys/socket.h>

#define LINE_MAX_LEN 4096  /* longer lines are rejected as a whole */
#define MAX_TOKENS   1024
#define STEP_MAX     63

typedef struct {
	const char *step;              /* "?" until known */
	const char *op;                /* "?" unless the token is [a-z0-9_]+ */
	const char *op_token;          /* the op token as sent */
	const char *args[MAX_TOKENS];  /* positional args after op */
	int nargs;
	const char *key[MAX_TOKENS];   /* key=value options (split in place) */
	const char *val[MAX_TOKENS];
	int nkv;
} cmd_t;

/* A name accepted in a '|'-separated flag set. */
typedef struct {
	const char *name;
	unsigned long value;
} flagdef_t;

/* Splits line in place into step, op and args; -1 + error event on failure.
 * An empty line yields 0 with c->op == NULL (nothing to do). c->step is
 * set whenever the line has a first token (for the completion frame). */
int cmd_tokenize(char *line, cmd_t *c);

/* Best-effort step and op of a line that will not be parsed (too long, NUL
 * byte): copies the first two tokens of line[0..n), truncated to fit, or
 * "?" when absent. */
/* The op as reported in events: the token if it is [a-z0-9_]{1,31}, else "?". */
const char *cmd_op_name(const char *tok);

void cmd_head(const char *line, size_t n, char *step, size_t step_sz,
	      char *op, size_t op_sz);

/* Moves trailing key=value tokens (at positions >= min_pos) from args to
 * key/val. A positional arg after an option is an error. */
int cmd_split_options(cmd_t *c, int min_pos);

void cmd_error(const cmd_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Integer in [lo, hi]; what names the argument in error messages. */
int cmd_int(const cmd_t *c, const char *tok, const char *what,
	    long long lo, long long hi, long long *out);

/* Flag set "a|b|c"; "0" or "-" is the empty set. */
int cmd_flags(const cmd_t *c, const char *tok, const flagdef_t *tab,
	      const char *what, unsigned long *out);

/* Single keyword from a table (like a one-element flag set). */
int cmd_keyword(const cmd_t *c, const char *tok, const flagdef_t *tab,
		const char *what, unsigned long *out);

/* Address starting at args[*idx]: "inet <ip> <port>", "inet6 <ip>[%scope]
 * <port>", "unix <path>" or "unix @<abstract>". Advances *idx. */
int cmd_addr(const cmd_t *c, int *idx, struct sockaddr_storage *ss, socklen_t *len);

/* Live handle named by args[idx]: returns its slot. */
int cmd_handle(const cmd_t *c, int idx);

/* args[idx] may become a new handle: valid, unused name, table not full. */
int cmd_new_handle(const cmd_t *c, int idx);

#endif
