/* link.c - frames on ZeroMQ sockets and the windowed chunk transfer (see link.h). */
#include "exec/link.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "exec/crc32.h"

/* Sends a frame already laid out in msg (header space included). */
static int send_msg(sw_peer *p, zmq_msg_t *msg, sw_msg_type type, bool block, sw_error *err)
{
    int flags = block ? 0 : ZMQ_DONTWAIT;
    if (p->id_len && zmq_send(p->sock, p->id, p->id_len, ZMQ_SNDMORE | flags) < 0) {
        zmq_msg_close(msg);
        return sw_errorf(err, SW_ERUNTIME, "send %s: identity frame: %s", sw_msg_type_name(type),
                         zmq_strerror(errno));
    }
    if (zmq_msg_send(msg, p->sock, flags) < 0) {
        int e = errno;
        zmq_msg_close(msg);
        return sw_errorf(err, SW_ERUNTIME, "send %s: %s", sw_msg_type_name(type), zmq_strerror(e));
    }
    p->seq++;
    return SW_OK;
}

int sw_link_send(sw_peer *p, sw_msg_type type, int64_t round, const void *payload, size_t len,
                 bool block, sw_error *err)
{
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, SW_PROTO_HEADER + len) != 0)
        return sw_errorf(err, SW_ERUNTIME, "send %s: out of memory", sw_msg_type_name(type));
    if (!sw_msg_frame(zmq_msg_data(&msg), zmq_msg_size(&msg), type, round, p->seq, payload, len)) {
        zmq_msg_close(&msg);
        return sw_errorf(err, SW_ERUNTIME, "send %s: payload of %zu bytes exceeds the bound",
                         sw_msg_type_name(type), len);
    }
    return send_msg(p, &msg, type, block, err);
}

void sw_xfer_tx_start(sw_xfer_tx *tx, const void *data, uint64_t total, uint32_t chunk,
                      uint32_t window, int64_t round)
{
    *tx = (sw_xfer_tx){.data = data,
                       .total = total,
                       .chunk = chunk ? chunk : 1,
                       .window = window ? window : 1,
                       .round = round,
                       .active = true};
}

int sw_xfer_tx_pump(sw_xfer_tx *tx, sw_peer *p, sw_error *err)
{
    while (tx->active && tx->sent < tx->total &&
           tx->sent - tx->acked < (uint64_t)tx->window * tx->chunk) {
        uint64_t left = tx->total - tx->sent;
        uint32_t n = left < tx->chunk ? (uint32_t)left : tx->chunk;
        zmq_msg_t msg;
        if (zmq_msg_init_size(&msg, SW_PROTO_HEADER + 16 + n) != 0)
            return sw_errorf(err, SW_ERUNTIME, "send chunk: out of memory");
        uint8_t *buf = zmq_msg_data(&msg);
        /* The payload is built in place after the header space, so the frame needs no
         * second copy of the data. */
        size_t plen = sw_msg_put_chunk(buf + SW_PROTO_HEADER, 16 + n, tx->sent, tx->total,
                                       tx->data + tx->sent, n);
        sw_msg_frame(buf, zmq_msg_size(&msg), SW_MSG_CHUNK, tx->round, p->seq,
                     buf + SW_PROTO_HEADER, plen);
        int rc = send_msg(p, &msg, SW_MSG_CHUNK, false, err);
        if (rc != SW_OK) {
            if (errno == EAGAIN) { /* the pipe is full: try again on the next pump */
                sw_error_clear(err);
                return SW_OK;
            }
            return rc;
        }
        tx->sent += n;
    }
    return SW_OK;
}

int sw_xfer_tx_ack(sw_xfer_tx *tx, const sw_msg_ack *a, sw_error *err)
{
    if (!tx->active)
        return sw_errorf(err, SW_EINPUT, "message ack: no transfer in progress");
    if (a->received > tx->sent)
        return sw_errorf(err, SW_EINPUT, "message ack: received: %llu, only %llu bytes were sent",
                         (unsigned long long)a->received, (unsigned long long)tx->sent);
    if (a->received > tx->acked)
        tx->acked = a->received;
    if (tx->acked == tx->total)
        tx->active = false;
    return SW_OK;
}

bool sw_xfer_tx_done(const sw_xfer_tx *tx)
{
    return tx->acked == tx->total;
}

void sw_xfer_rx_start(sw_xfer_rx *rx, void *buf, uint64_t total, uint32_t crc, int64_t round)
{
    *rx = (sw_xfer_rx){.buf = buf, .total = total, .crc = crc, .round = round, .active = true};
}

int sw_xfer_rx_chunk(sw_xfer_rx *rx, sw_peer *p, int64_t round, const sw_msg_chunk *c,
                     bool *complete, sw_error *err)
{
    *complete = false;
    if (!rx->active)
        return sw_errorf(err, SW_EINPUT, "message chunk: no transfer in progress");
    if (round != rx->round)
        return sw_errorf(err, SW_EINPUT, "message chunk: round: %lld, transfer is for round %lld",
                         (long long)round, (long long)rx->round);
    if (c->total != rx->total)
        return sw_errorf(err, SW_EINPUT, "message chunk: total: %llu, expected %llu",
                         (unsigned long long)c->total, (unsigned long long)rx->total);
    if (c->offset != rx->received)
        return sw_errorf(err, SW_EINPUT, "message chunk: offset: %llu, expected %llu",
                         (unsigned long long)c->offset, (unsigned long long)rx->received);
    memcpy(rx->buf + c->offset, c->data, c->len);
    rx->crc_acc = sw_exec_crc32(rx->crc_acc, rx->buf + c->offset, c->len);
    rx->received += c->len;
    sw_msg_ack a = {.received = rx->received};
    uint8_t pl[8];
    sw_msg_put_ack(pl, sizeof pl, &a);
    int rc = sw_link_send(p, SW_MSG_ACK, round, pl, sizeof pl, false, err);
    if (rc != SW_OK)
        return rc;
    if (rx->received == rx->total) {
        rx->active = false;
        uint32_t crc = rx->crc_acc;
        if (crc != rx->crc)
            return sw_errorf(err, SW_EINPUT,
                             "model transfer: model_crc: 0x%08x, received bytes "
                             "checksum to 0x%08x",
                             rx->crc, crc);
        *complete = true;
    }
    return SW_OK;
}
