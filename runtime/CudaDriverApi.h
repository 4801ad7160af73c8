/*===- CudaDriverApi.h - The few CUDA driver API entry points used -*- C -*-===*
 *
 * Part of seqc. Declares the CUDA driver types, constants and function
 * signatures the runtime needs, spelled exactly as cuda.h spells them, so
 * the runtime builds without the CUDA toolkit and finds libcuda.so.1 at run
 * time. tests/cuda/DriverApiTest.cpp includes cuda.h first (which makes this
 * header skip its own type declarations) and checks every signature and
 * constant below against the real header.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQC_RUNTIME_CUDADRIVERAPI_H
#define SEQC_RUNTIME_CUDADRIVERAPI_H

#include <stddef.h>

#ifndef __cuda_cuda_h__
typedef enum cudaError_enum { SEQC_CU_RESULT_MAX = 0x7fffffff } CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef enum CUdevice_attribute_enum {
  SEQC_CU_DEVICE_ATTRIBUTE_MAX = 0x7fffffff
} CUdevice_attribute;
typedef enum CUfunction_attribute_enum {
  SEQC_CU_FUNCTION_ATTRIBUTE_MAX = 0x7fffffff
} CUfunction_attribute;
typedef enum CUjit_option_enum {
  SEQC_CU_JIT_OPTION_MAX = 0x7fffffff
} CUjit_option;
typedef enum CUstreamCaptureMode_enum {
  SEQC_CU_STREAM_CAPTURE_MODE_MAX = 0x7fffffff
} CUstreamCaptureMode;
#endif

/* Result codes (cudaError_enum). */
#define SEQC_CU_SUCCESS 0
#define SEQC_CU_ERROR_OUT_OF_MEMORY 2
#define SEQC_CU_ERROR_NOT_INITIALIZED 3
#define SEQC_CU_ERROR_STUB_LIBRARY 34
#define SEQC_CU_ERROR_NO_DEVICE 100
#define SEQC_CU_ERROR_NO_BINARY_FOR_GPU 209
/* CUdevice_attribute values. */
#define SEQC_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define SEQC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define SEQC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define SEQC_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN 97
/* CUfunction_attribute values. */
#define SEQC_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8
/* CUjit_option values. */
#define SEQC_CU_JIT_ERROR_LOG_BUFFER 5
#define SEQC_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6
/* CUstreamCaptureMode and stream flags. */
#define SEQC_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL 1
#define SEQC_CU_STREAM_NON_BLOCKING 1

/* X(name, symbol, return, parameters): every entry point the runtime
 * resolves with dlsym. `symbol` is the versioned name cuda.h maps to. */
#define SEQC_CUDA_DRIVER_FUNCTIONS(X)                                          \
  X(cuInit, cuInit, CUresult, (unsigned int))                                  \
  X(cuDriverGetVersion, cuDriverGetVersion, CUresult, (int *))                 \
  X(cuDeviceGetCount, cuDeviceGetCount, CUresult, (int *))                     \
  X(cuDeviceGet, cuDeviceGet, CUresult, (CUdevice *, int))                     \
  X(cuDeviceGetName, cuDeviceGetName, CUresult, (char *, int, CUdevice))       \
  X(cuDeviceGetAttribute, cuDeviceGetAttribute, CUresult,                      \
    (int *, CUdevice_attribute, CUdevice))                                     \
  X(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain, CUresult,              \
    (CUcontext *, CUdevice))                                                   \
  X(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2, CUresult,         \
    (CUdevice))                                                                \
  X(cuCtxPushCurrent, cuCtxPushCurrent_v2, CUresult, (CUcontext))              \
  X(cuCtxPopCurrent, cuCtxPopCurrent_v2, CUresult, (CUcontext *))              \
  X(cuCtxSynchronize, cuCtxSynchronize, CUresult, (void))                      \
  X(cuModuleLoadDataEx, cuModuleLoadDataEx, CUresult,                          \
    (CUmodule *, const void *, unsigned int, CUjit_option *, void **))         \
  X(cuModuleGetFunction, cuModuleGetFunction, CUresult,                        \
    (CUfunction *, CUmodule, const char *))                                    \
  X(cuModuleUnload, cuModuleUnload, CUresult, (CUmodule))                      \
  X(cuFuncSetAttribute, cuFuncSetAttribute, CUresult,                          \
    (CUfunction, CUfunction_attribute, int))                                   \
  X(cuMemAlloc, cuMemAlloc_v2, CUresult, (CUdeviceptr *, size_t))              \
  X(cuMemFree, cuMemFree_v2, CUresult, (CUdeviceptr))                          \
  X(cuMemcpyHtoD, cuMemcpyHtoD_v2, CUresult,                                   \
    (CUdeviceptr, const void *, size_t))                                       \
  X(cuMemsetD32Async, cuMemsetD32Async, CUresult,                              \
    (CUdeviceptr, unsigned int, size_t, CUstream))                             \
  X(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2, CUresult,                         \
    (CUdeviceptr, const void *, size_t, CUstream))                             \
  X(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2, CUresult,                         \
    (void *, CUdeviceptr, size_t, CUstream))                                   \
  X(cuStreamCreate, cuStreamCreate, CUresult, (CUstream *, unsigned int))      \
  X(cuStreamDestroy, cuStreamDestroy_v2, CUresult, (CUstream))                 \
  X(cuStreamSynchronize, cuStreamSynchronize, CUresult, (CUstream))            \
  X(cuStreamBeginCapture, cuStreamBeginCapture_v2, CUresult,                   \
    (CUstream, CUstreamCaptureMode))                                           \
  X(cuStreamEndCapture, cuStreamEndCapture, CUresult, (CUstream, CUgraph *))   \
  X(cuGraphInstantiate, cuGraphInstantiateWithFlags, CUresult,                 \
    (CUgraphExec *, CUgraph, unsigned long long))                              \
  X(cuGraphLaunch, cuGraphLaunch, CUresult, (CUgraphExec, CUstream))           \
  X(cuGraphExecDestroy, cuGraphExecDestroy, CUresult, (CUgraphExec))           \
  X(cuGraphDestroy, cuGraphDestroy, CUresult, (CUgraph))                       \
  X(cuLaunchKernel, cuLaunchKernel, CUresult,                                  \
    (CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,       \
     unsigned int, unsigned int, unsigned int, CUstream, void **, void **))    \
  X(cuGetErrorName, cuGetErrorName, CUresult, (CUresult, const char **))       \
  X(cuGetErrorString, cuGetErrorString, CUresult, (CUresult, const char **))

#endif /* SEQC_RUNTIME_CUDADRIVERAPI_H */
