/*
 * handles.c - the handle table (the probe's only state besides the event
 * sequence counter).
 */
#include "handles.h"

#include <string.h>
#include <unistd.h>

static struct handle {
	char name[HANDLE_NAME_MAX + 1]; /* "" = free slot */
	int fd;
	uint32_t gen;                   /* bumped on every reuse of the slot */
} table[HANDLE_MAX];

int handle_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > HANDLE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		int digit = c >= '0' && c <= '9';

		if (!(alpha || (i > 0 && digit)))
			return 0;
	}
	return 1;
}

int handle_find(const char *name)
{
	for (int i = 0; i < HANDLE_MAX; i++)
		if (table[i].name[0] && strcmp(table[i].name, name) == 0)
			return i;
	return -1;
}

int handle_table_full(void)
{
	for (int i = 0; i < HANDLE_MAX; i++)
		if (!table[i].name[0])
			return 0;
	return 1;
}

int handle_add(const char *name, int fd)
{
	if (!handle_name_ok(name) || handle_find(name) >= 0)
		return -1;
	for (int i = 0; i < HANDLE_MAX; i++) {
		if (!table[i].name[0]) {
			strcpy(table[i].name, name);
			table[i].fd = fd;
			table[i].gen++;
			return i;
		}
	}
	return -1;
}

void handle_forget(int slot)
{
	if (slot >= 0 && slot < HANDLE_MAX) {
		table[slot].name[0] = '\0';
		table[slot].fd = -1;
	}
}

int handle_fd(int slot)
{
	return table[slot].fd;
}

const char *handle_name(int slot)
{
	return table[slot].name;
}

/*
 * Token layout (epoll_event.data): bits 63-40 a hash of the handle's name,
 * 39-24 this process's tag (its pid, truncated), 23-8 the slot's
 * generation, 7-0 the slot. The tag tells a registration made by this
 * probe from one made by another probe holding the same epoll instance (a
 * shared epoll fd); the name hash lets that other registration be named
 * after the handle of the same name here, the shared socket.
 */
static uint32_t name_hash24(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h & 0xffffff;
}

static uint32_t process_tag(void)
{
	static uint32_t tag;

	if (!tag)
		tag = ((uint32_t)getpid() & 0xffff) | 0x10000; /* bit 16 set: never 0 once known */
	return tag & 0xffff;
}

uint64_t handle_token(int slot)
{
	return ((uint64_t)name_hash24(table[slot].name) << 40) | ((uint64_t)process_tag() << 24) |
	       ((uint64_t)(table[slot].gen & 0xffff) << 8) | (uint32_t)slot;
}

int handle_from_token(uint64_t token)
{
	uint32_t slot = (uint32_t)(token & 0xff);
	uint32_t gen = (uint32_t)((token >> 8) & 0xffff);
	uint32_t hash = (uint32_t)(token >> 40);

	if (((token >> 24) & 0xffff) == process_tag())
		/* ours: that incarnation of the slot, or gone */
		return table[slot].name[0] && (table[slot].gen & 0xffff) == gen ? (int)slot : -1;
	/* another probe's registration in a shared epoll instance: the handle of the same name here */
	for (int i = 0; i < HANDLE_MAX; i++)
		if (table[i].name[0] && name_hash24(table[i].name) == hash)
			return i;
	return -1;
}

int handles_close_all(void)
{
	int n = 0;

	for (int i = 0; i < HANDLE_MAX; i++) {
		if (table[i].name[0]) {
			close(table[i].fd);
			handle_forget(i);
			n++;
		}
	}
	return n;
}

void handles_reset_generations(void)
{
	for (int i = 0; i < HANDLE_MAX; i++)
		table[i].gen = 0;
}
