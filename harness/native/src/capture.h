/*
 * capture.h - packet capture mode: `sockspec-probe capture IFNAME...`
 * reports every TCP segment the interfaces transmit (PROTOCOL.md).
 */
#ifndef SOCKSPEC_CAPTURE_H
#define SOCKSPEC_CAPTURE_H

/* Runs the capture until EOF on stdin; returns the process exit code. */
int capture_main(int nif, char **ifnames);

#endif
