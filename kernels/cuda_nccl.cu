/* cuda_nccl.cu - NCCL within a site: one communicator per GPU of this process and a bucketed
 * in-place gradient average (see cuda_backend.h). Built with NCCL when SW_HAVE_NCCL is set;
 * otherwise every entry reports "built without NCCL".
 */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda_common.cuh"

#ifdef SW_HAVE_NCCL
#include <nccl.h>

struct sw_nccl {
    int n;
    ncclComm_t *comms; /* [n], rank r on devices[r] */
};

extern "C" sw_nccl *sw_nccl_create(const int *devices, int n, char *err, size_t errlen)
{
    sw_nccl *c = (sw_nccl *)calloc(1, sizeof *c);
    if (!c || !(c->comms = (ncclComm_t *)calloc((size_t)n, sizeof(ncclComm_t)))) {
        free(c);
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    c->n = n;
    ncclResult_t r = ncclCommInitAll(c->comms, n, devices);
    if (r != ncclSuccess) {
        snprintf(err, errlen, "ncclCommInitAll over %d GPUs: %s", n, ncclGetErrorString(r));
        free(c->comms);
        free(c);
        return NULL;
    }
    return c;
}

extern "C" void sw_nccl_destroy(sw_nccl *c)
{
    if (!c)
        return;
    for (int r = 0; r < c->n; r++)
        ncclCommDestroy(c->comms[r]);
    free(c->comms);
    free(c);
}

extern "C" int sw_nccl_allreduce_mean(sw_nccl *c, int rank, float *buf, size_t n,
                                      size_t bucket_floats, char *err, size_t errlen)
{
    sw_cuda_ctx *ctx = sw_cuda_ctx_cur();
    if (bucket_floats == 0)
        bucket_floats = (size_t)16 << 20;
    /* Buckets bound each collective's size, so that a backward pass with per-layer hooks can
     * issue each one as soon as its gradients are final (kernels/model.c has no such hook yet:
     * today they run back to back after the backward pass). */
    for (size_t off = 0; off < n; off += bucket_floats) {
        size_t len = n - off < bucket_floats ? n - off : bucket_floats;
        ncclResult_t r = ncclAllReduce(buf + off, buf + off, len, ncclFloat32, ncclAvg,
                                       c->comms[rank], ctx->stream);
        if (r != ncclSuccess) {
            snprintf(err, errlen, "ncclAllReduce (rank %d, %zu floats): %s", rank, len,
                     ncclGetErrorString(r));
            return -1;
        }
    }
    cudaError_t e = cudaStreamSynchronize(ctx->stream);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "all-reduce on rank %d: %s", rank, cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

extern "C" int sw_nccl_version(void)
{
    int v = 0;
    return ncclGetVersion(&v) == ncclSuccess ? v : 0;
}

#else

struct sw_nccl {
    int n;
};

extern "C" sw_nccl *sw_nccl_create(const int *devices, int n, char *err, size_t errlen)
{
    (void)devices;
    (void)n;
    snprintf(err, errlen, "built without NCCL");
    return NULL;
}

extern "C" void sw_nccl_destroy(sw_nccl *c)
{
    (void)c;
}

extern "C" int sw_nccl_allreduce_mean(sw_nccl *c, int rank, float *buf, size_t n,
                                      size_t bucket_floats, char *err, size_t errlen)
{
    (void)c;
    (void)rank;
    (void)buf;
    (void)n;
    (void)bucket_floats;
    snprintf(err, errlen, "built without NCCL");
    return -1;
}

extern "C" int sw_nccl_version(void)
{
    return 0;
}

#endif
