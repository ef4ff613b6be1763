/* crc32.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for the exec wire protocol.
 *
 * Every message payload and every transferred model carries one (docs/formats/protocol.md).
 * CRC-32C rather than the IEEE CRC-32 of zip and of kernels/checkpoint: x86-64 computes it in
 * hardware (SSE4.2 `crc32`, picked at run time, 8 bytes per instruction), so checksumming a
 * model costs a few percent of moving it over loopback instead of halving the throughput
 * (software slicing-by-8 runs at about the speed of a loopback TCP copy); other CPUs use the
 * slicing-by-8 tables, with identical results.
 */
#ifndef SW_EXEC_CRC32_H
#define SW_EXEC_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes at data, continuing from crc (start with 0). crc("123456789") is
 * 0xE3069283. */
uint32_t sw_exec_crc32(uint32_t crc, const void *data, size_t n);

/* The same with the portable tables only (tests compare the two paths). */
uint32_t sw_exec_crc32_soft(uint32_t crc, const void *data, size_t n);

#endif
