/* cuda_backend.h - the CUDA backend of kernels/ (cuda_*.cu): the sw_backend table on an NVIDIA
 * GPU, and the device and NCCL helpers that the data-parallel trainer (cuda_dp.h) uses.
 * Everything here is C; the .cu files implement it. Compiled only where nvcc was found
 * (SW_HAVE_CUDA); kernels/backend_registry.c is the one caller that needs no #ifdef.
 *
 * Devices and threads: each operation runs on the device bound to the calling thread
 * (sw_cuda_bind), on one stream per device, so N host threads can drive N GPUs with the one
 * static table. A thread that never called sw_cuda_bind gets device 0 on first use.
 *
 * Memory (SW_CUDA_MEMORY, read once): "managed" (default) allocates with cudaMallocManaged, so
 * host code that reads or writes backend memory directly (kernels/model.c's memcpy and
 * memset between operations, init_params, checkpoints) stays correct; every operation then
 * waits for its kernels before it returns. "device" allocates with cudaMalloc and leaves
 * operations asynchronous; it is only for callers that touch backend memory exclusively
 * through the table's copy/fill operations. A managed allocation larger than the device's
 * free memory is refused (returns NULL): oversubscribed managed memory can hang a GPU.
 *
 * Errors inside an operation (a failed launch, a device fault) are fatal: the table has no
 * error path, so the message goes to stderr and the process aborts, as llm.c does.
 */
#ifndef SW_CUDA_BACKEND_H
#define SW_CUDA_BACKEND_H

#include <stddef.h>

#include "kernels/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of visible CUDA devices (> 0), or 0 with "no CUDA device: <why>" in err. */
int sw_cuda_device_count(char *err, size_t errlen);

/* Binds the calling thread to device (0-based): its later operations run there. Creates the
 * device's stream and cuBLAS handle on first use. Returns 0, or -1 with a message in err. */
int sw_cuda_bind(int device, char *err, size_t errlen);

/* The device bound to the calling thread (-1: none yet). */
int sw_cuda_bound_device(void);

/* The CUDA table ("cuda": fp32 everywhere; "cuda-bf16": matrix products on bf16 tensor cores
 * with fp32 accumulation over fp32 storage, everything else fp32), after binding the calling
 * thread to device $SW_CUDA_DEVICE (default 0) if it is not bound yet. NULL with a message in
 * err when no device is usable. Static storage. */
const sw_backend *sw_backend_cuda(int bf16, char *err, size_t errlen);

/* Runtime, driver and NCCL versions as a line such as "CUDA runtime 13000, driver 13000,
 * NCCL 22809" (the driver figure is 0 without a driver). */
void sw_cuda_versions(char *buf, size_t len);

/* ---- NCCL within a site (cuda_nccl.cu) ---------------------------------------------------- */

/* One communicator per GPU of this process (ncclCommInitAll over devices[0..n-1]). */
typedef struct sw_nccl sw_nccl;

/* Creates the communicators; NULL with a message in err ("built without NCCL" where the
 * build had none). The caller owns the result (sw_nccl_destroy). */
sw_nccl *sw_nccl_create(const int *devices, int n, char *err, size_t errlen);

void sw_nccl_destroy(sw_nccl *c);

/* Averages buf[n] (device or managed memory of rank's device) in place over all ranks, in
 * buckets of bucket_floats (0: 16 Mi floats), on the rank's stream; returns when done. Every
 * rank must call it, each from the thread bound to its device. 0, or -1 with a message. */
int sw_nccl_allreduce_mean(sw_nccl *c, int rank, float *buf, size_t n, size_t bucket_floats,
                           char *err, size_t errlen);

/* NCCL's version code (22809 for 2.28.9), 0 without NCCL. */
int sw_nccl_version(void);

#ifdef __cplusplus
}
#endif

#endif
