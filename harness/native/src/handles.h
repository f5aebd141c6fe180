/*
 * handles.h - scenario handle names -> file descriptors.
 *
 * Raw fds never appear in the protocol; every socket or epoll instance is
 * known by a name chosen by the scenario ([A-Za-z_][A-Za-z0-9_]{0,30}).
 */
#ifndef SOCKSPEC_HANDLES_H
#define SOCKSPEC_HANDLES_H

#include <stdint.h>

#define HANDLE_MAX 256
#define HANDLE_NAME_MAX 31

/* 1 if s is a syntactically valid handle name. */
int handle_name_ok(const char *s);
/* Slot of the live handle called name, or -1. */
int handle_find(const char *name);
/* 1 if no slot is free. */
int handle_table_full(void);
/* Registers name -> fd; returns the slot, or -1 (full, bad or taken name). */
int handle_add(const char *name, int fd);
/* Forgets a slot (does not close the fd). */
void handle_forget(int slot);
int handle_fd(int slot);
const char *handle_name(int slot);
/* A token for epoll_event.data naming the slot *and* its incarnation, so an
 * event for a closed and re-created name can never be misattributed; and
 * the probe that made it with the handle's name, so a registration another
 * probe made in a shared epoll instance is reported under the same name. */
uint64_t handle_token(int slot);
/* Slot for a token: this probe's, -1 if that incarnation is gone; another
 * probe's, the live handle of the same name here, or -1. */
int handle_from_token(uint64_t token);
/* The token as "#<n>" shows it when it names no handle: the slot and
 * generation only, so the text is the same from run to run. */
#define HANDLE_TOKEN_SHOWN(token) ((unsigned long long)((token) & 0xffffff))
/* close() every live handle (quit / EOF / reset), silently; returns how
 * many were closed. */
int handles_close_all(void);
/* After handles_close_all: slot generations back to 0, so a reused probe
 * hands out the same epoll tokens as a fresh one (no old token can be alive:
 * every epoll set was closed with its handle). */
void handles_reset_generations(void);

#endif
