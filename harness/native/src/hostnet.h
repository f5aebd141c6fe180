/*
 * hostnet.h - the host helper mode: `sockspec-probe hosts` (PROTOCOL.md,
 * "Host helper mode"), one process per run that applies path gates and
 * deletes namespaces for the harness.
 */
#ifndef SOCKSPEC_HOSTNET_H
#define SOCKSPEC_HOSTNET_H

/* Serves commands on stdin until EOF; returns the process exit code. */
int hosts_main(void);

#endif
