/* link.h - sending protocol frames on ZeroMQ sockets and moving a model in chunks.
 *
 * The coordinator's ROUTER prefixes every frame with the peer's routing identity; an agent's
 * DEALER sends the frame alone. A model moves as CHUNK messages of at most chunk_bytes with at
 * most `window` chunks unacknowledged: the receiver ACKs the bytes it holds after each chunk,
 * so memory stays bounded (window x chunk per peer) while the pipe stays full, instead of one
 * huge message that the receiver must hold whole before it can start checking it.
 */
#ifndef SW_EXEC_LINK_H
#define SW_EXEC_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "exec/proto.h"

/* A peer on a socket: the socket and, on a ROUTER, the routing identity. */
typedef struct sw_peer {
    void *sock;
    uint8_t id[256];
    size_t id_len; /* 0 on a DEALER */
    uint32_t seq;  /* frames sent to this peer */
} sw_peer;

/* Sends one frame (type, round, payload of len bytes) to p, non-blocking unless `block`.
 * Returns SW_OK, or SW_ERUNTIME (message names the type and errno) when ZeroMQ refuses it. */
int sw_link_send(sw_peer *p, sw_msg_type type, int64_t round, const void *payload, size_t len,
                 bool block, sw_error *err);

/* Sending side of a model transfer. data is borrowed and must stay unchanged until done. */
typedef struct sw_xfer_tx {
    const uint8_t *data;
    uint64_t total;  /* bytes */
    uint64_t sent;   /* bytes handed to ZeroMQ */
    uint64_t acked;  /* bytes the receiver confirmed */
    uint32_t chunk;  /* bytes per chunk */
    uint32_t window; /* chunks in flight */
    int64_t round;
    bool active;
} sw_xfer_tx;

void sw_xfer_tx_start(sw_xfer_tx *tx, const void *data, uint64_t total, uint32_t chunk,
                      uint32_t window, int64_t round);
/* Sends as many chunks as the window allows. */
int sw_xfer_tx_pump(sw_xfer_tx *tx, sw_peer *p, sw_error *err);
/* An ACK arrived: records it (SW_EINPUT if it acknowledges more than was sent). */
int sw_xfer_tx_ack(sw_xfer_tx *tx, const sw_msg_ack *a, sw_error *err);
bool sw_xfer_tx_done(const sw_xfer_tx *tx);

/* Receiving side: chunks must arrive in order (ZeroMQ keeps order per peer). */
typedef struct sw_xfer_rx {
    uint8_t *buf; /* caller-owned destination of `total` bytes */
    uint64_t total;
    uint64_t received;
    uint32_t crc;     /* expected CRC-32C of the whole model */
    uint32_t crc_acc; /* CRC-32C of the bytes received so far (computed while they are hot) */
    int64_t round;
    bool active;
} sw_xfer_rx;

void sw_xfer_rx_start(sw_xfer_rx *rx, void *buf, uint64_t total, uint32_t crc, int64_t round);
/* Stores a chunk and ACKs it to p. SW_EINPUT (naming the field) for a chunk of another
 * round, size or offset; the transfer is left as it was. *complete is set once every byte is
 * in; the whole-model CRC is then checked (SW_EINPUT "model_crc" on mismatch). */
int sw_xfer_rx_chunk(sw_xfer_rx *rx, sw_peer *p, int64_t round, const sw_msg_chunk *c,
                     bool *complete, sw_error *err);

#endif
