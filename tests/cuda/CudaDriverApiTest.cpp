//===- CudaDriverApiTest.cpp - runtime/CudaDriverApi.h matches cuda.h -----===//
//
// Part of seqc's tests. The runtime declares the CUDA driver API itself (it
// builds without the toolkit). Here cuda.h comes first, so the runtime's
// header uses cuda.h's types, and every entry point's type and every
// constant is checked against the real declarations at compile time.
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#include "runtime/CudaDriverApi.h"

#include <doctest/doctest.h>

#include <type_traits>

// cuda.h maps e.g. cuMemAlloc to cuMemAlloc_v2 with a macro; `symbol` is the
// name the runtime passes to dlsym.
#define SEQC_CHECK_SIGNATURE(name, symbol, ret, params)                        \
  static_assert(std::is_same_v<decltype(&::symbol), ret(*) params>,            \
                #symbol " does not match cuda.h");
SEQC_CUDA_DRIVER_FUNCTIONS(SEQC_CHECK_SIGNATURE)

static_assert(SEQC_CU_SUCCESS == CUDA_SUCCESS);
static_assert(SEQC_CU_ERROR_OUT_OF_MEMORY == CUDA_ERROR_OUT_OF_MEMORY);
static_assert(SEQC_CU_ERROR_NOT_INITIALIZED == CUDA_ERROR_NOT_INITIALIZED);
static_assert(SEQC_CU_ERROR_STUB_LIBRARY == CUDA_ERROR_STUB_LIBRARY);
static_assert(SEQC_CU_ERROR_NO_DEVICE == CUDA_ERROR_NO_DEVICE);
static_assert(SEQC_CU_ERROR_NO_BINARY_FOR_GPU == CUDA_ERROR_NO_BINARY_FOR_GPU);
static_assert(SEQC_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT ==
              CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(SEQC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
              CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(SEQC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
              CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(SEQC_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN ==
              CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
static_assert(SEQC_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ==
              CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(SEQC_CU_JIT_ERROR_LOG_BUFFER == CU_JIT_ERROR_LOG_BUFFER);
static_assert(SEQC_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES ==
              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(SEQC_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL ==
              CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(SEQC_CU_STREAM_NON_BLOCKING == CU_STREAM_NON_BLOCKING);

TEST_CASE("the runtime's driver declarations match cuda.h") {
  // Everything is checked by the static_asserts above; count the entries so
  // the list cannot silently become empty.
  int entries = 0;
#define SEQC_COUNT(name, symbol, ret, params) ++entries;
  SEQC_CUDA_DRIVER_FUNCTIONS(SEQC_COUNT)
#undef SEQC_COUNT
  CHECK(entries >= 30);
}
