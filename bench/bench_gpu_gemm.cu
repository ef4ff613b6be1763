/* bench_gpu_gemm.cu - the ceiling bench_gpu.c measures MFU against: the rate of a square bf16
 * matrix product (bf16 in and out, fp32 accumulation, cuBLAS) on this GPU, in this run, on
 * random data; and the device's memory in use. Benchmark code, not part of the library. */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>

__global__ static void fill_random(__nv_bfloat16 *x, size_t n, unsigned seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        x[i] = __float2bfloat16((float)(h & 0xffff) / 65536.0f - 0.5f);
    }
}

/* TFLOP/s of an n x n x n bf16 product: mean of reps timed products after 3 warm-ups; a
 * negative value when something failed (the message went to stderr). */
extern "C" double sw_bench_bf16_gemm_tflops(int n, int reps)
{
    size_t nn = (size_t)n * n;
    __nv_bfloat16 *a = NULL, *b = NULL, *c = NULL;
    cublasHandle_t h = NULL;
    cudaEvent_t e0, e1;
    double tflops = -1.0;
    if (cudaMalloc(&a, nn * 2) != cudaSuccess || cudaMalloc(&b, nn * 2) != cudaSuccess ||
        cudaMalloc(&c, nn * 2) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "bench gemm: allocation failed\n");
        goto out;
    }
    fill_random<<<1024, 256>>>(a, nn, 1u);
    fill_random<<<1024, 256>>>(b, nn, 2u);
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    {
        const float alpha = 1.0f, beta = 0.0f;
        float ms = 0.0f;
        for (int r = 0; r < 3 + reps; r++) {
            if (r == 3)
                cudaEventRecord(e0);
            if (cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a, CUDA_R_16BF, n, b,
                             CUDA_R_16BF, n, &beta, c, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
                fprintf(stderr, "bench gemm: cublasGemmEx failed\n");
                goto out;
            }
        }
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&ms, e0, e1);
        tflops = 2.0 * n * (double)n * n * reps / (ms * 1e-3) / 1e12;
    }
out:
    if (h)
        cublasDestroy(h);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return tflops;
}

/* Bytes of device memory in use (total - free). */
extern "C" double sw_bench_gpu_mem_used_gb(void)
{
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    return (double)(t - f) / 1e9;
}
