/*
 * capture.h - packet capture mode: `sockspec-probe capture IFNAME...`
 * reports every TCP segment the interfaces transmit (PROTOCOL.md).
 */
#ifndef SOCKSPEC_CAPTURE_H
#define SOCKSPEC_CAPTURE_H

#include <stddef.h>

/* Runs the capture until EOF on stdin; returns the process exit code. */
int capture_main(int nif, char **ifnames);

/*
 * The name of an ICMP (ICMPv6) error by meaning, the same in both families
 * ("dest-unreach/port", "packet-too-big"); NULL for a message that is not
 * an error. buf holds names built from numbers. The packet peer names what
 * it sends with them, so its ICMP matches like a captured one.
 */
const char *icmp4_name(unsigned type, unsigned code, char *buf, size_t n);
const char *icmp6_name(unsigned type, unsigned code, char *buf, size_t n);

#endif
