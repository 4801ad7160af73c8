/*===- seqc_cuda_runtime.h - Run seqc-compiled CUDA models --------*- C -*-===*
 *
 * Part of seqc. The C ABI between code that seqc generates for the CUDA
 * target and the small runtime that runs it. The runtime loads the CUDA
 * driver (libcuda.so.1) with dlopen the first time it is needed, so programs
 * that link it start and run on machines without a GPU or driver: every
 * entry point then returns SEQC_CUDA_ERROR_NO_DEVICE and a message, never
 * crashes.
 *
 * A model is described by a seqc_cuda_model_desc (kernels as CUBIN and/or
 * PTX, packed parameters, and a launch plan). seqc_cuda_model_create loads
 * the module, uploads the parameters once and keeps them on the device;
 * seqc_cuda_model_run records the plan for a batch size into a CUDA Graph
 * the first time and replays that graph afterwards.
 *
 * Depends on libc and libdl only; needs no CUDA header to build.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQC_CUDA_RUNTIME_H
#define SEQC_CUDA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Layout version of seqc_cuda_model_desc; create refuses other versions. */
#define SEQC_CUDA_ABI_VERSION 1u

/* Status codes. Every function returning int returns one of these. */
enum {
  SEQC_CUDA_OK = 0,
  /* No usable GPU: libcuda.so.1 missing, the driver stub, no device, or a
     driver too old. */
  SEQC_CUDA_ERROR_NO_DEVICE = 1,
  /* A null pointer, a misaligned pointer, a batch over the limit, a
     malformed descriptor. */
  SEQC_CUDA_ERROR_INVALID_ARGUMENT = 2,
  /* The driver could not load the CUBIN or the PTX, or a kernel is missing,
     or the device lacks the shared memory a kernel needs. */
  SEQC_CUDA_ERROR_LOAD = 3,
  /* Device memory allocation failed. */
  SEQC_CUDA_ERROR_OUT_OF_MEMORY = 4,
  /* Any other driver failure (launch, copy, graph capture). */
  SEQC_CUDA_ERROR_DRIVER = 5
};

/* Buffers a launch reads or writes. */
enum {
  SEQC_CUDA_BUFFER_INPUT = 0,    /* the caller's input  [batch, in]  */
  SEQC_CUDA_BUFFER_OUTPUT = 1,   /* the caller's output [batch, out] */
  SEQC_CUDA_BUFFER_SCRATCH0 = 2, /* runtime-owned activation buffers of */
  SEQC_CUDA_BUFFER_SCRATCH1 = 3  /* scratch_floats_per_row floats a row */
};

/* One kernel launch of the forward pass. Every kernel has the signature
 *   extern "C" __global__ void k(const float *x, float *y,
 *                                const unsigned char *params,
 *                                long long batch);
 * The grid is (blocks, grid_y, 1) with
 *   tiles  = ceil(batch / rows_per_block)
 *   blocks = blocks_per_sm ? min(tiles, blocks_per_sm * SM count) : tiles
 * (kernels with blocks_per_sm != 0 loop over the row tiles). A launch runs
 * only when min_batch <= batch <= max_batch. */
typedef struct seqc_cuda_launch {
  const char *kernel;
  uint32_t threads;
  uint32_t shared_bytes;
  uint32_t rows_per_block;
  uint32_t grid_y;
  uint32_t blocks_per_sm;
  int32_t input;
  int32_t output;
  uint64_t min_batch;
  uint64_t max_batch;
} seqc_cuda_launch;

/* Everything the runtime needs to run one compiled model. Pointers must
 * stay valid while a model created from it lives. */
typedef struct seqc_cuda_model_desc {
  uint32_t abi_version; /* SEQC_CUDA_ABI_VERSION */
  const char *name;     /* for messages */
  uint64_t in_features;
  uint64_t out_features;
  const void *cubin; /* may be NULL */
  uint64_t cubin_size;
  uint32_t cubin_arch; /* e.g. 80 for sm_80 */
  const char *ptx;     /* NUL-terminated; may be NULL */
  const void *params;  /* packed parameters, uploaded once */
  uint64_t params_size;
  uint64_t scratch_floats_per_row;
  uint32_t num_launches;
  const seqc_cuda_launch *launches;
} seqc_cuda_model_desc;

typedef struct seqc_cuda_model seqc_cuda_model;

/* Largest batch the runtime accepts (2^31 rows). */
#define SEQC_CUDA_MAX_BATCH (1ull << 31)

/* Loads the driver (once per process) and counts devices. On success
 * *count is >= 1; without a usable GPU returns SEQC_CUDA_ERROR_NO_DEVICE. */
int seqc_cuda_device_count(int *count);

/* The device's name, e.g. "NVIDIA H100 80GB HBM3". */
int seqc_cuda_device_name(int device, char *name, size_t size);

/* The device's compute capability as major * 10 + minor (90 for an H100),
 * for JIT compilation that targets the GPU at hand. */
int seqc_cuda_device_arch(int device, int *arch);

/* Creates a model on \p device (an ordinal, usually 0): loads the CUBIN (or
 * JIT-compiles the PTX when the CUBIN does not fit the GPU) and uploads the
 * parameters. */
int seqc_cuda_model_create(const seqc_cuda_model_desc *desc, int device,
                           seqc_cuda_model **model);

/* Runs the model on device pointers: input [batch, in_features], output
 * [batch, out_features], both float32 row-major and 16-byte aligned.
 * \p stream is a CUstream (NULL for the legacy default stream); the call is
 * asynchronous with respect to the host. Not safe to call from two threads
 * at once on one model. */
int seqc_cuda_model_run(seqc_cuda_model *model, const float *input,
                        float *output, uint64_t batch, void *stream);

/* Convenience: copies host input to the device, runs, copies the output
 * back and waits. Device buffers are kept and grown as needed. */
int seqc_cuda_model_run_host(seqc_cuda_model *model, const float *input,
                             float *output, uint64_t batch);

/* Times the model on device buffers it owns (input filled with 0.5):
 * one warm-up run, then \p iterations runs. With \p wait_each != 0 every
 * run is followed by a stream synchronisation (latency: launch + kernels +
 * wait); otherwise the runs are queued back to back and waited for once
 * (throughput). *seconds receives the mean time per run. */
int seqc_cuda_model_benchmark(seqc_cuda_model *model, uint64_t batch,
                              uint32_t iterations, int wait_each,
                              double *seconds);

/* Waits for all work the model queued. */
int seqc_cuda_model_synchronize(seqc_cuda_model *model);

/* Frees the model's device memory, graphs and module. NULL is allowed. */
void seqc_cuda_model_destroy(seqc_cuda_model *model);

/* The message of the last failure on this thread ("" if none). */
const char *seqc_cuda_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SEQC_CUDA_RUNTIME_H */
