/* nccl.h (emulated) - the four NCCL calls of kernels/cuda_nccl.cu for ranks that are threads
 * of one process (see cuda_runtime.h beside it): an in-place average is a barrier, a sum in
 * rank order by rank 0, a barrier, a copy back, a barrier. */
#ifndef SW_EMU_NCCL_H
#define SW_EMU_NCCL_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "cuda_runtime.h"

typedef int ncclResult_t;
enum { ncclSuccess = 0, ncclInvalidArgument = 4 };
typedef enum { ncclFloat32 = 7 } ncclDataType_t;
typedef enum { ncclAvg = 4 } ncclRedOp_t;

struct emu_nccl_group {
    int n, alive;
    pthread_barrier_t bar;
    std::vector<float *> bufs;
    std::vector<float> mean;
};
struct emu_nccl_comm {
    emu_nccl_group *g;
    int rank;
};
typedef emu_nccl_comm *ncclComm_t;

inline ncclResult_t ncclCommInitAll(ncclComm_t *comms, int n, const int *devs)
{
    (void)devs;
    emu_nccl_group *g = new emu_nccl_group;
    g->n = g->alive = n;
    g->bufs.assign(n, NULL);
    pthread_barrier_init(&g->bar, NULL, (unsigned)n);
    for (int r = 0; r < n; r++)
        comms[r] = new emu_nccl_comm{g, r};
    return ncclSuccess;
}

inline ncclResult_t ncclCommDestroy(ncclComm_t c)
{
    emu_nccl_group *g = c->g;
    delete c;
    if (--g->alive == 0) {
        pthread_barrier_destroy(&g->bar);
        delete g;
    }
    return ncclSuccess;
}

inline ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t t,
                                  ncclRedOp_t op, ncclComm_t c, cudaStream_t s)
{
    (void)s;
    if (send != recv || t != ncclFloat32 || op != ncclAvg)
        return ncclInvalidArgument;
    emu_nccl_group *g = c->g;
    g->bufs[c->rank] = (float *)recv;
    pthread_barrier_wait(&g->bar);
    if (c->rank == 0) {
        g->mean.assign(count, 0.0f);
        for (int r = 0; r < g->n; r++)
            for (size_t i = 0; i < count; i++)
                g->mean[i] += g->bufs[r][i];
        for (size_t i = 0; i < count; i++)
            g->mean[i] /= (float)g->n;
    }
    pthread_barrier_wait(&g->bar);
    memcpy(recv, g->mean.data(), count * sizeof(float));
    pthread_barrier_wait(&g->bar);
    return ncclSuccess;
}

inline const char *ncclGetErrorString(ncclResult_t r)
{
    return r ? "emulated NCCL error" : "no error";
}

inline ncclResult_t ncclGetVersion(int *v)
{
    *v = 0;
    return ncclSuccess;
}

#endif
