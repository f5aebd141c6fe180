/*
 * command.c - tokenizer and argument parsers.
 */
#include "command.h"
#include "event.h"
#include "handles.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

void cmd_error(const cmd_t *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ev_error(c->step, c->op, "%s", msg);
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

const char *cmd_op_name(const char *tok)
{
	size_t n = 0;

	for (const char *p = tok; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return "?";
	return n >= 1 && n <= 31 ? tok : "?";
}

int cmd_tokenize(char *line, cmd_t *c)
{
	char *p = line;
	int n = 0;
	const char *tok[MAX_TOKENS + 2];

	c->step = "?";
	c->op = NULL;
	c->op_token = NULL;
	c->nargs = 0;
	c->nkv = 0;
	while (*p) {
		while (is_space(*p))
			*p++ = '\0';
		if (!*p)
			break;
		if (n == MAX_TOKENS + 2) {
			c->op = cmd_op_name(tok[1]);
			c->step = tok[0];
			cmd_error(c, "too many tokens (max %d)", MAX_TOKENS);
			return -1;
		}
		tok[n++] = p;
		while (*p && !is_space(*p))
			p++;
	}
	if (n == 0)
		return 0;
	c->step = tok[0];
	c->op_token = n > 1 ? tok[1] : "";
	c->op = n > 1 ? cmd_op_name(tok[1]) : "?";
	if (strlen(tok[0]) > STEP_MAX) {
		cmd_error(c, "step token longer than %d chars", STEP_MAX);
		return -1;
	}
	if (n < 2) {
		cmd_error(c, "missing op");
		return -1;
	}
	for (int i = 2; i < n; i++)
		c->args[c->nargs++] = tok[i];
	return 0;
}

void cmd_head(const char *line, size_t n, char *step, size_t step_sz,
	      char *op, size_t op_sz)
{
	char *out[2] = { step, op };
	size_t sz[2] = { step_sz, op_sz };
	size_t i = 0;

	for (int t = 0; t < 2; t++) {
		size_t k = 0;

		while (i < n && is_space(line[i]))
			i++;
		while (i < n && line[i] && !is_space(line[i])) {
			if (k + 1 < sz[t])
				out[t][k++] = line[i];
			i++;
		}
		out[t][k] = '\0';
		if (k == 0)
			strcpy(out[t], "?");
	}
	if (strcmp(cmd_op_name(op), "?") == 0)
		strcpy(op, "?");
}

/* key=value: key is an identifier followed by '='. */
static char *option_eq(const char *tok)
{
	const char *p = tok;

	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
		return NULL;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
	       (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	return *p == '=' ? (char *)p : NULL;
}

int cmd_split_options(cmd_t *c, int min_pos)
{
	int keep = c->nargs;

	for (int i = min_pos; i < c->nargs; i++) {
		char *eq = option_eq(c->args[i]);

		if (eq) {
			if (keep == c->nargs)
				keep = i;
			*eq = '\0';
			c->key[c->nkv] = c->args[i];
			c->val[c->nkv++] = eq + 1;
		} else if (keep != c->nargs) {
			cmd_error(c, "positional argument '%s' after key=value options", c->args[i]);
			return -1;
		}
	}
	c->nargs = keep;
	return 0;
}

int cmd_int(const cmd_t *c, const char *tok, const char *what,
	    long long lo, long long hi, long long *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(tok, &end, 0);
	if (!*tok || *end || errno || v < lo || v > hi) {
		cmd_error(c, "bad %s '%s' (integer %lld..%lld)", what, tok, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static const flagdef_t *lookup(const flagdef_t *tab, const char *s, size_t n)
{
	for (const flagdef_t *p = tab; p->name; p++)
		if (strlen(p->name) == n && strncmp(p->name, s, n) == 0)
			return p;
	return NULL;
}

int cmd_flags(const cmd_t *c, const char *tok, const flagdef_t *tab,
	      const char *what, unsigned long *out)
{
	unsigned long v = 0;

	*out = 0;
	if (strcmp(tok, "0") == 0 || strcmp(tok, "-") == 0)
		return 0;
	for (const char *p = tok;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		const flagdef_t *f = lookup(tab, p, n);

		if (!f) {
			cmd_error(c, "unknown %s flag '%.*s'", what, (int)(n > 64 ? 64 : n), p);
			return -1;
		}
		v |= f->value;
		if (!bar)
			break;
		p = bar + 1;
	}
	*out = v;
	return 0;
}

int cmd_keyword(const cmd_t *c, const char *tok, const flagdef_t *tab,
		const char *what, unsigned long *out)
{
	const flagdef_t *f = lookup(tab, tok, strlen(tok));

	if (!f) {
		cmd_error(c, "unknown %s '%.64s'", what, tok);
		return -1;
	}
	*out = f->value;
	return 0;
}

static int need(const cmd_t *c, int idx, const char *what)
{
	if (idx >= c->nargs) {
		cmd_error(c, "missing %s", what);
		return -1;
	}
	return 0;
}

int cmd_addr(const cmd_t *c, int *idx, struct sockaddr_storage *ss, socklen_t *len)
{
	int i = *idx;
	long long port;

	memset(ss, 0, sizeof *ss);
	if (need(c, i, "address family (inet|inet6|unix)") < 0)
		return -1;
	const char *fam = c->args[i];

	if (strcmp(fam, "inet") == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (need(c, i + 1, "inet address") < 0 || need(c, i + 2, "port") < 0)
			return -1;
		if (inet_pton(AF_INET, c->args[i + 1], &in->sin_addr) != 1) {
			cmd_error(c, "bad inet address '%.64s'", c->args[i + 1]);
			return -1;
		}
		if (cmd_int(c, c->args[i + 2], "port", 0, 65535, &port) < 0)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof *in;
		*idx = i + 3;
		return 0;
	}
	if (strcmp(fam, "inet6") == 0) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		char ip[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];

		if (need(c, i + 1, "inet6 address") < 0 || need(c, i + 2, "port") < 0)
			return -1;
		if (strlen(c->args[i + 1]) >= sizeof ip) {
			cmd_error(c, "inet6 address too long");
			return -1;
		}
		strcpy(ip, c->args[i + 1]);
		char *pct = strchr(ip, '%');          /* fe80::1%eth0 or %2 */
		if (pct) {
			*pct++ = '\0';
			char *end;
			unsigned long sid = strtoul(pct, &end, 10);

			if (!*pct || *end)
				sid = if_nametoindex(pct);
			if (!*pct || sid == 0 || sid > 0xffffffffUL) {
				cmd_error(c, "bad inet6 scope '%.32s'", pct);
				return -1;
			}
			in6->sin6_scope_id = (uint32_t)sid;
		}
		if (inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1) {
			cmd_error(c, "bad inet6 address '%.64s'", c->args[i + 1]);
			return -1;
		}
		if (cmd_int(c, c->args[i + 2], "port", 0, 65535, &port) < 0)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof *in6;
		*idx = i + 3;
		return 0;
	}
	if (strcmp(fam, "unix") == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const size_t base = offsetof(struct sockaddr_un, sun_path);

		if (need(c, i + 1, "unix path") < 0)
			return -1;
		const char *path = c->args[i + 1];
		size_t n = strlen(path);

		un->sun_family = AF_UNIX;
		if (path[0] == '@') {
			/* Abstract namespace (unix(7)): sun_path[0] = 0, the name
			 * is the following addrlen - base - 1 bytes, no NUL. */
			if (n > sizeof un->sun_path) {
				cmd_error(c, "abstract unix name longer than %zu bytes",
					  sizeof un->sun_path - 1);
				return -1;
			}
			memcpy(un->sun_path + 1, path + 1, n - 1);
			*len = (socklen_t)(base + n);
		} else {
			/* A 108-byte path without NUL is legal (unix_mkname_bsd
			 * terminates it); shorter ones are passed with their NUL. */
			if (n > sizeof un->sun_path) {
				cmd_error(c, "unix path longer than %zu bytes", sizeof un->sun_path);
				return -1;
			}
			memcpy(un->sun_path, path, n);
			*len = (socklen_t)(base + n + (n < sizeof un->sun_path));
		}
		*idx = i + 2;
		return 0;
	}
	cmd_error(c, "unknown address family '%.32s' (inet|inet6|unix)", fam);
	return -1;
}

int cmd_handle(const cmd_t *c, int idx)
{
	if (need(c, idx, "handle") < 0)
		return -1;
	const char *name = c->args[idx];
	if (!handle_name_ok(name)) {
		cmd_error(c, "bad handle name '%.40s'", name);
		return -1;
	}
	int slot = handle_find(name);
	if (slot < 0)
		cmd_error(c, "unknown handle '%s'", name);
	return slot;
}

int cmd_new_handle(const cmd_t *c, int idx)
{
	if (need(c, idx, "new handle name") < 0)
		return -1;
	const char *name = c->args[idx];
	if (!handle_name_ok(name)) {
		cmd_error(c, "bad handle name '%.40s' ([A-Za-z_][A-Za-z0-9_]{0,%d})",
			  name, HANDLE_NAME_MAX - 1);
		return -1;
	}
	if (handle_find(name) >= 0) {
		cmd_error(c, "handle '%s' already exists", name);
		return -1;
	}
	if (handle_table_full()) {
		cmd_error(c, "handle table full (%d handles)", HANDLE_MAX);
		return -1;
	}
	return 0;
}
