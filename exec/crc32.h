/* crc32.h - CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) for the exec wire protocol.
 *
 * Every message payload and every transferred model carries one (docs/formats/protocol.md).
 * Slicing-by-8 tables: about 8 bytes per table round, so checksumming a model costs a small
 * fraction of moving it over loopback.
 */
#ifndef SW_EXEC_CRC32_H
#define SW_EXEC_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 of n bytes at data, continuing from crc (start with 0). crc32("123456789") is
 * 0xCBF43926. */
uint32_t sw_exec_crc32(uint32_t crc, const void *data, size_t n);

#endif
