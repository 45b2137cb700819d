#include "csum.h"

uint64_t csum_partial(const void *data, size_t len, uint64_t sum)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint64_t csum_pseudo4(const uint8_t saddr[4], const uint8_t daddr[4],
		      uint8_t proto, uint32_t len)
{
	uint64_t sum = csum_partial(saddr, 4, 0);

	sum = csum_partial(daddr, 4, sum);
	return sum + proto + (len >> 16) + (len & 0xffff);
}

uint64_t csum_pseudo6(const uint8_t saddr[16], const uint8_t daddr[16],
		      uint8_t proto, uint32_t len)
{
	uint64_t sum = csum_partial(saddr, 16, 0);

	sum = csum_partial(daddr, 16, sum);
	return sum + proto + (len >> 16) + (len & 0xffff);
}

/* Reflected polynomial 0x1EDC6F41; the table is built on first use. */
static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78 : c >> 1;
		crc32c_table[i] = c;
	}
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	if (!crc32c_table[1])
		crc32c_init();
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}
