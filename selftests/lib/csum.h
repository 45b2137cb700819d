/* Checksum primitives for packet tests: the Internet ones-complement sum
 * (RFC 1071) with IPv4/IPv6 pseudo-headers, and CRC32c (RFC 3309) for SCTP.
 * Pure C, no alignment or endianness assumptions: data is summed as
 * big-endian 16-bit words straight from the byte buffer. */
#ifndef XLB_TEST_CSUM_H
#define XLB_TEST_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes at data to the running sum (big-endian 16-bit words, an odd
 * trailing byte padded with zero). Chain calls on consecutive chunks only
 * when every chunk but the last has an even length. Start with sum 0. */
uint64_t csum_partial(const void *data, size_t len, uint64_t sum);

/* Folds a running sum to 16 bits and complements it: the value to store in a
 * checksum field (host order; write it big-endian). Over a region that
 * includes a correct checksum field the result is 0. */
uint16_t csum_fold(uint64_t sum);

/* Running sums of the TCP/UDP/ICMPv6 pseudo-headers; len is the upper-layer
 * length (RFC 768/793 for IPv4, RFC 8200 section 8.1 for IPv6). */
uint64_t csum_pseudo4(const uint8_t saddr[4], const uint8_t daddr[4],
		      uint8_t proto, uint32_t len);
uint64_t csum_pseudo6(const uint8_t saddr[16], const uint8_t daddr[16],
		      uint8_t proto, uint32_t len);

/* CRC32c (Castagnoli, reflected, init and final xor ~0), chained like zlib's
 * crc32(): crc32c(0, "123456789", 9) == 0xE3069283, and
 * crc32c(crc32c(0, a, na), b, nb) is the CRC of a followed by b. SCTP stores
 * the result least significant byte first. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
