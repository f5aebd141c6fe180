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

uint64_t handle_token(int slot)
{
	return ((uint64_t)table[slot].gen << 32) | (uint32_t)slot;
}

int handle_from_token(uint64_t token)
{
	uint32_t slot = (uint32_t)token;

	if (slot >= HANDLE_MAX || !table[slot].name[0] ||
	    table[slot].gen != (uint32_t)(token >> 32))
		return -1;
	return (int)slot;
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
