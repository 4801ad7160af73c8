/*===- CudaLoader.c - Load libcuda at run time and run seqc models --------===*
 *
 * Part of seqc. Implements seqc_cuda_runtime.h on top of the CUDA driver
 * API, resolved with dlopen/dlsym so that nothing here needs the driver at
 * link time. See seqc_cuda_runtime.h for the contract.
 *
 *===----------------------------------------------------------------------===*/

#include "seqc_cuda_runtime.h"

#include "CudaDriverApi.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*===-- Errors ------------------------------------------------------------===*/

static _Thread_local char lastError[2048];

static int fail(int code, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(lastError, sizeof lastError, format, args);
  va_end(args);
  return code;
}

const char *seqc_cuda_last_error(void) { return lastError; }

/*===-- The driver, loaded once -------------------------------------------===*/

typedef struct DriverApi {
#define SEQC_DECLARE_POINTER(name, symbol, ret, params) ret(*name) params;
  SEQC_CUDA_DRIVER_FUNCTIONS(SEQC_DECLARE_POINTER)
#undef SEQC_DECLARE_POINTER
} DriverApi;

static DriverApi cu;
static pthread_once_t driverOnce = PTHREAD_ONCE_INIT;
static int driverStatus = SEQC_CUDA_ERROR_NO_DEVICE;
static char driverMessage[1024];
static int deviceCount;

/* Name and description of a driver result, e.g.
   "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)". */
static void describeResult(CUresult result, char *out, size_t size) {
  const char *name = NULL, *text = NULL;
  if (cu.cuGetErrorName)
    cu.cuGetErrorName(result, &name);
  if (cu.cuGetErrorString)
    cu.cuGetErrorString(result, &text);
  if (name)
    snprintf(out, size, "%s (%s)", name, text ? text : "no description");
  else
    snprintf(out, size, "CUDA error %d", (int)result);
}

static void loadDriver(void) {
  const char *library = getenv("SEQC_CUDA_DRIVER");
  if (!library || !*library)
    library = "libcuda.so.1";
  void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    snprintf(driverMessage, sizeof driverMessage,
             "no CUDA device: the CUDA driver library %s could not be loaded "
             "(%s)",
             library, why ? why : "unknown reason");
    return;
  }
#define SEQC_RESOLVE(name, symbol, ret, params)                                \
  cu.name = (ret(*) params)dlsym(handle, #symbol);                             \
  if (!cu.name) {                                                              \
    snprintf(driverMessage, sizeof driverMessage,                              \
             "no CUDA device: the CUDA driver %s lacks %s (driver too old)",   \
             library, #symbol);                                                \
    memset(&cu, 0, sizeof cu);                                                 \
    return;                                                                    \
  }
  SEQC_CUDA_DRIVER_FUNCTIONS(SEQC_RESOLVE)
#undef SEQC_RESOLVE
  CUresult result = cu.cuInit(0);
  if (result != SEQC_CU_SUCCESS) {
    char what[256];
    describeResult(result, what, sizeof what);
    snprintf(driverMessage, sizeof driverMessage,
             "no CUDA device: cuInit failed: %s", what);
    return;
  }
  int count = 0;
  result = cu.cuDeviceGetCount(&count);
  if (result != SEQC_CU_SUCCESS || count <= 0) {
    snprintf(driverMessage, sizeof driverMessage,
             "no CUDA device: the driver reports no GPU");
    return;
  }
  deviceCount = count;
  driverStatus = SEQC_CUDA_OK;
}

static int ensureDriver(void) {
  pthread_once(&driverOnce, loadDriver);
  if (driverStatus != SEQC_CUDA_OK)
    return fail(driverStatus, "%s", driverMessage);
  return SEQC_CUDA_OK;
}

/* Turns a failed driver call into a runtime status with a message. */
static int driverFailure(CUresult result, const char *what,
                         const char *modelName) {
  char text[256];
  describeResult(result, text, sizeof text);
  int code = result == SEQC_CU_ERROR_OUT_OF_MEMORY
                 ? SEQC_CUDA_ERROR_OUT_OF_MEMORY
                 : SEQC_CUDA_ERROR_DRIVER;
  return fail(code, "%s%s%s failed: %s", modelName ? modelName : "",
              modelName ? ": " : "", what, text);
}

int seqc_cuda_device_count(int *count) {
  if (!count)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT, "count is NULL");
  *count = 0;
  int status = ensureDriver();
  if (status != SEQC_CUDA_OK)
    return status;
  *count = deviceCount;
  return SEQC_CUDA_OK;
}

int seqc_cuda_device_name(int device, char *name, size_t size) {
  if (!name || size == 0)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT, "name buffer is empty");
  name[0] = '\0';
  int status = ensureDriver();
  if (status != SEQC_CUDA_OK)
    return status;
  if (device < 0 || device >= deviceCount)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "device %d does not exist (%d devices)", device, deviceCount);
  CUdevice dev;
  CUresult result = cu.cuDeviceGet(&dev, device);
  if (result == SEQC_CU_SUCCESS)
    result = cu.cuDeviceGetName(name, size > 1024 ? 1024 : (int)size, dev);
  if (result != SEQC_CU_SUCCESS)
    return driverFailure(result, "cuDeviceGetName", NULL);
  return SEQC_CUDA_OK;
}

int seqc_cuda_device_arch(int device, int *arch) {
  if (!arch)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT, "arch is NULL");
  *arch = 0;
  int status = ensureDriver();
  if (status != SEQC_CUDA_OK)
    return status;
  if (device < 0 || device >= deviceCount)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "device %d does not exist (%d devices)", device, deviceCount);
  CUdevice dev;
  int major = 0, minor = 0;
  CUresult result = cu.cuDeviceGet(&dev, device);
  if (result == SEQC_CU_SUCCESS)
    result = cu.cuDeviceGetAttribute(
        &major,
        (CUdevice_attribute)SEQC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
        dev);
  if (result == SEQC_CU_SUCCESS)
    result = cu.cuDeviceGetAttribute(
        &minor,
        (CUdevice_attribute)SEQC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
        dev);
  if (result != SEQC_CU_SUCCESS)
    return driverFailure(result, "cuDeviceGetAttribute", NULL);
  *arch = major * 10 + minor;
  return SEQC_CUDA_OK;
}

/*===-- Models ------------------------------------------------------------===*/

struct seqc_cuda_model {
  seqc_cuda_model_desc desc;
  const char *name;
  CUdevice device;
  CUcontext context;
  CUmodule module;
  CUfunction *functions;
  int smCount;
  CUstream stream; /* captures graphs; runs run_host */
  CUdeviceptr params;
  CUdeviceptr scratch[2];
  uint64_t scratchRows;
  /* The graph recorded for the last (batch, input, output). */
  CUgraphExec graph;
  uint64_t graphBatch;
  CUdeviceptr graphInput, graphOutput;
  /* Device copies for run_host. */
  CUdeviceptr hostInput, hostOutput;
  uint64_t hostRows;
};

/* Makes the model's context current for the duration of one API call. */
static int enter(seqc_cuda_model *model) {
  CUresult result = cu.cuCtxPushCurrent(model->context);
  if (result != SEQC_CU_SUCCESS)
    return driverFailure(result, "cuCtxPushCurrent", model->name);
  return SEQC_CUDA_OK;
}

static int leave(int status) {
  CUcontext previous;
  cu.cuCtxPopCurrent(&previous);
  return status;
}

static int validateDesc(const seqc_cuda_model_desc *desc) {
  if (desc->abi_version != SEQC_CUDA_ABI_VERSION)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "model descriptor has ABI version %u, this runtime expects %u "
                "(rebuild the model with a matching seqc)",
                desc->abi_version, SEQC_CUDA_ABI_VERSION);
  if ((!desc->cubin || desc->cubin_size == 0) && !desc->ptx)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "model descriptor has neither CUBIN nor PTX");
  if (desc->params_size && !desc->params)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "model descriptor has a parameter size but no parameters");
  if (desc->num_launches && !desc->launches)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "model descriptor has no launch plan");
  if (desc->in_features == 0 || desc->out_features == 0)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "model descriptor has zero features");
  for (uint32_t i = 0; i < desc->num_launches; ++i) {
    const seqc_cuda_launch *l = &desc->launches[i];
    if (!l->kernel || l->threads == 0 || l->threads > 1024 ||
        l->rows_per_block == 0 || l->grid_y == 0 || l->input < 0 ||
        l->input > 3 || l->output < 0 || l->output > 3)
      return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                  "launch %u of the model descriptor is malformed", i);
    if ((l->input >= 2 || l->output >= 2) && desc->scratch_floats_per_row == 0)
      return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                  "launch %u uses scratch memory the descriptor does not size",
                  i);
  }
  return SEQC_CUDA_OK;
}

static int loadModule(seqc_cuda_model *model) {
  const seqc_cuda_model_desc *desc = &model->desc;
  char cubinError[256] = "no CUBIN embedded";
  if (desc->cubin && desc->cubin_size) {
    CUresult result =
        cu.cuModuleLoadDataEx(&model->module, desc->cubin, 0, NULL, NULL);
    if (result == SEQC_CU_SUCCESS)
      return SEQC_CUDA_OK;
    describeResult(result, cubinError, sizeof cubinError);
  }
  if (!desc->ptx)
    return fail(SEQC_CUDA_ERROR_LOAD,
                "%s: the CUBIN for sm_%u does not load on this GPU (%s) and "
                "no PTX is embedded",
                model->name, desc->cubin_arch, cubinError);
  char log[1024] = "";
  CUjit_option options[2] = {
      (CUjit_option)SEQC_CU_JIT_ERROR_LOG_BUFFER,
      (CUjit_option)SEQC_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[2] = {log, (void *)(size_t)sizeof log};
  CUresult result =
      cu.cuModuleLoadDataEx(&model->module, desc->ptx, 2, options, values);
  if (result == SEQC_CU_SUCCESS)
    return SEQC_CUDA_OK;
  char ptxError[256];
  describeResult(result, ptxError, sizeof ptxError);
  log[sizeof log - 1] = '\0';
  return fail(SEQC_CUDA_ERROR_LOAD,
              "%s: cannot load the kernels: CUBIN (sm_%u): %s; PTX: %s%s%s",
              model->name, desc->cubin_arch, cubinError, ptxError,
              log[0] ? "\n" : "", log);
}

static int prepareFunctions(seqc_cuda_model *model) {
  const seqc_cuda_model_desc *desc = &model->desc;
  int optin = 0;
  cu.cuDeviceGetAttribute(
      &optin,
      (CUdevice_attribute)
          SEQC_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
      model->device);
  model->functions =
      calloc(desc->num_launches ? desc->num_launches : 1, sizeof(CUfunction));
  if (!model->functions)
    return fail(SEQC_CUDA_ERROR_OUT_OF_MEMORY, "out of host memory");
  for (uint32_t i = 0; i < desc->num_launches; ++i) {
    const seqc_cuda_launch *l = &desc->launches[i];
    CUresult result =
        cu.cuModuleGetFunction(&model->functions[i], model->module, l->kernel);
    if (result != SEQC_CU_SUCCESS)
      return fail(SEQC_CUDA_ERROR_LOAD, "%s: kernel %s is not in the module",
                  model->name, l->kernel);
    if (l->shared_bytes > 48u * 1024u) {
      if (optin > 0 && l->shared_bytes > (uint32_t)optin)
        return fail(SEQC_CUDA_ERROR_LOAD,
                    "%s: kernel %s needs %u bytes of shared memory, this GPU "
                    "allows %d per block (recompile with --gpu-arch for it)",
                    model->name, l->kernel, l->shared_bytes, optin);
      result = cu.cuFuncSetAttribute(
          model->functions[i],
          (CUfunction_attribute)
              SEQC_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
          (int)l->shared_bytes);
      if (result != SEQC_CU_SUCCESS)
        return driverFailure(result, "cuFuncSetAttribute", model->name);
    }
  }
  return SEQC_CUDA_OK;
}

/* An executable graph still running is freed by the driver when it ends. */
static void releaseGraph(seqc_cuda_model *model) {
  if (model->graph) {
    cu.cuGraphExecDestroy(model->graph);
    model->graph = NULL;
  }
}

static void releaseModel(seqc_cuda_model *model) {
  releaseGraph(model);
  if (model->hostInput)
    cu.cuMemFree(model->hostInput);
  if (model->hostOutput)
    cu.cuMemFree(model->hostOutput);
  for (int i = 0; i < 2; ++i)
    if (model->scratch[i])
      cu.cuMemFree(model->scratch[i]);
  if (model->params)
    cu.cuMemFree(model->params);
  if (model->stream)
    cu.cuStreamDestroy(model->stream);
  if (model->module)
    cu.cuModuleUnload(model->module);
}

int seqc_cuda_model_create(const seqc_cuda_model_desc *desc, int device,
                           seqc_cuda_model **out) {
  if (!out)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT, "model pointer is NULL");
  *out = NULL;
  if (!desc)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT, "descriptor is NULL");
  int status = validateDesc(desc);
  if (status != SEQC_CUDA_OK)
    return status;
  status = ensureDriver();
  if (status != SEQC_CUDA_OK)
    return status;
  if (device < 0 || device >= deviceCount)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "device %d does not exist (%d devices)", device, deviceCount);

  seqc_cuda_model *model = calloc(1, sizeof *model);
  if (!model)
    return fail(SEQC_CUDA_ERROR_OUT_OF_MEMORY, "out of host memory");
  model->desc = *desc;
  model->name = desc->name ? desc->name : "model";
  CUresult result = cu.cuDeviceGet(&model->device, device);
  if (result == SEQC_CU_SUCCESS)
    result = cu.cuDevicePrimaryCtxRetain(&model->context, model->device);
  if (result != SEQC_CU_SUCCESS) {
    free(model);
    return driverFailure(result, "creating the CUDA context", desc->name);
  }
  status = enter(model);
  if (status != SEQC_CUDA_OK) {
    cu.cuDevicePrimaryCtxRelease(model->device);
    free(model);
    return status;
  }
  cu.cuDeviceGetAttribute(
      &model->smCount,
      (CUdevice_attribute)SEQC_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
      model->device);
  if (model->smCount <= 0)
    model->smCount = 1;

  status = loadModule(model);
  if (status == SEQC_CUDA_OK)
    status = prepareFunctions(model);
  if (status == SEQC_CUDA_OK) {
    result = cu.cuStreamCreate(&model->stream, SEQC_CU_STREAM_NON_BLOCKING);
    if (result != SEQC_CU_SUCCESS)
      status = driverFailure(result, "cuStreamCreate", model->name);
  }
  if (status == SEQC_CUDA_OK) {
    size_t bytes = desc->params_size ? desc->params_size : 256;
    result = cu.cuMemAlloc(&model->params, bytes);
    if (result == SEQC_CU_SUCCESS && desc->params_size)
      result = cu.cuMemcpyHtoD(model->params, desc->params, desc->params_size);
    if (result != SEQC_CU_SUCCESS)
      status = driverFailure(result, "uploading the parameters", model->name);
  }
  if (status != SEQC_CUDA_OK) {
    releaseModel(model);
    free(model->functions);
    leave(status);
    cu.cuDevicePrimaryCtxRelease(model->device);
    free(model);
    return status;
  }
  leave(SEQC_CUDA_OK);
  *out = model;
  return SEQC_CUDA_OK;
}

void seqc_cuda_model_destroy(seqc_cuda_model *model) {
  if (!model)
    return;
  if (enter(model) == SEQC_CUDA_OK) {
    releaseModel(model);
    leave(SEQC_CUDA_OK);
  }
  cu.cuDevicePrimaryCtxRelease(model->device);
  free(model->functions);
  free(model);
}

/* Grows the scratch buffers to hold \p batch rows. */
static int ensureScratch(seqc_cuda_model *model, uint64_t batch) {
  if (model->desc.scratch_floats_per_row == 0 || batch <= model->scratchRows)
    return SEQC_CUDA_OK;
  releaseGraph(model);   /* it refers to the old buffers */
  cu.cuCtxSynchronize(); /* work in flight may still use them */
  for (int i = 0; i < 2; ++i) {
    if (model->scratch[i])
      cu.cuMemFree(model->scratch[i]);
    model->scratch[i] = 0;
  }
  model->scratchRows = 0;
  size_t bytes = (size_t)batch * model->desc.scratch_floats_per_row * 4u;
  for (int i = 0; i < 2; ++i) {
    CUresult result = cu.cuMemAlloc(&model->scratch[i], bytes);
    if (result != SEQC_CU_SUCCESS)
      return driverFailure(result, "allocating activation memory", model->name);
  }
  model->scratchRows = batch;
  return SEQC_CUDA_OK;
}

/* Records the launch plan for one batch size into a CUDA graph. */
static int recordGraph(seqc_cuda_model *model, CUdeviceptr input,
                       CUdeviceptr output, uint64_t batch) {
  releaseGraph(model);
  CUdeviceptr buffers[4] = {input, output, model->scratch[0],
                            model->scratch[1]};
  long long batchArg = (long long)batch;
  CUresult result = cu.cuStreamBeginCapture(
      model->stream,
      (CUstreamCaptureMode)SEQC_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  if (result != SEQC_CU_SUCCESS)
    return driverFailure(result, "cuStreamBeginCapture", model->name);
  CUresult launchResult = SEQC_CU_SUCCESS;
  for (uint32_t i = 0; i < model->desc.num_launches; ++i) {
    const seqc_cuda_launch *l = &model->desc.launches[i];
    if (batch < l->min_batch || batch > l->max_batch)
      continue;
    uint64_t tiles = (batch + l->rows_per_block - 1) / l->rows_per_block;
    uint64_t blocks = tiles;
    if (l->blocks_per_sm) {
      uint64_t limit = (uint64_t)l->blocks_per_sm * (uint64_t)model->smCount;
      if (blocks > limit)
        blocks = limit;
    }
    if (blocks > 0x7fffffffull) {
      CUgraph partial = NULL;
      cu.cuStreamEndCapture(model->stream, &partial);
      if (partial)
        cu.cuGraphDestroy(partial);
      return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                  "%s: batch %llu needs more than 2^31-1 blocks for %s",
                  model->name, (unsigned long long)batch, l->kernel);
    }
    CUdeviceptr x = buffers[l->input], y = buffers[l->output],
                p = model->params;
    void *args[4] = {&x, &y, &p, &batchArg};
    launchResult = cu.cuLaunchKernel(
        model->functions[i], (unsigned)blocks, l->grid_y, 1, l->threads, 1, 1,
        l->shared_bytes, model->stream, args, NULL);
    if (launchResult != SEQC_CU_SUCCESS)
      break;
  }
  CUgraph graph = NULL;
  result = cu.cuStreamEndCapture(model->stream, &graph);
  if (launchResult != SEQC_CU_SUCCESS) {
    if (graph)
      cu.cuGraphDestroy(graph);
    return driverFailure(launchResult, "cuLaunchKernel (graph capture)",
                         model->name);
  }
  if (result != SEQC_CU_SUCCESS)
    return driverFailure(result, "cuStreamEndCapture", model->name);
  result = cu.cuGraphInstantiate(&model->graph, graph, 0);
  cu.cuGraphDestroy(graph);
  if (result != SEQC_CU_SUCCESS) {
    model->graph = NULL;
    return driverFailure(result, "cuGraphInstantiate", model->name);
  }
  model->graphBatch = batch;
  model->graphInput = input;
  model->graphOutput = output;
  return SEQC_CUDA_OK;
}

static int runOnDevice(seqc_cuda_model *model, CUdeviceptr input,
                       CUdeviceptr output, uint64_t batch, CUstream stream) {
  int status = ensureScratch(model, batch);
  if (status != SEQC_CUDA_OK)
    return status;
  if (!model->graph || model->graphBatch != batch ||
      model->graphInput != input || model->graphOutput != output) {
    status = recordGraph(model, input, output, batch);
    if (status != SEQC_CUDA_OK)
      return status;
  }
  CUresult result = cu.cuGraphLaunch(model->graph, stream);
  if (result != SEQC_CU_SUCCESS)
    return driverFailure(result, "cuGraphLaunch", model->name);
  return SEQC_CUDA_OK;
}

static int checkRun(seqc_cuda_model *model, const void *input,
                    const void *output, uint64_t batch) {
  if (!model)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT, "model is NULL");
  if (batch > SEQC_CUDA_MAX_BATCH)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "%s: batch %llu exceeds the limit of %llu rows", model->name,
                (unsigned long long)batch,
                (unsigned long long)SEQC_CUDA_MAX_BATCH);
  if (batch && (!input || !output))
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "%s: input or output pointer is NULL", model->name);
  return SEQC_CUDA_OK;
}

int seqc_cuda_model_run(seqc_cuda_model *model, const float *input,
                        float *output, uint64_t batch, void *stream) {
  int status = checkRun(model, input, output, batch);
  if (status != SEQC_CUDA_OK || batch == 0)
    return status;
  if (((uintptr_t)input | (uintptr_t)output) % 16 != 0)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "%s: device input and output must be 16-byte aligned",
                model->name);
  status = enter(model);
  if (status != SEQC_CUDA_OK)
    return status;
  return leave(runOnDevice(model, (CUdeviceptr)(uintptr_t)input,
                           (CUdeviceptr)(uintptr_t)output, batch,
                           (CUstream)stream));
}

/* Grows the runtime-owned device input/output buffers to \p batch rows. */
static int ensureHostBuffers(seqc_cuda_model *model, uint64_t batch) {
  if (batch <= model->hostRows)
    return SEQC_CUDA_OK;
  releaseGraph(model);
  cu.cuCtxSynchronize();
  if (model->hostInput)
    cu.cuMemFree(model->hostInput);
  if (model->hostOutput)
    cu.cuMemFree(model->hostOutput);
  model->hostInput = model->hostOutput = 0;
  model->hostRows = 0;
  CUresult result = cu.cuMemAlloc(&model->hostInput,
                                  (size_t)batch * model->desc.in_features * 4u);
  if (result == SEQC_CU_SUCCESS)
    result = cu.cuMemAlloc(&model->hostOutput,
                           (size_t)batch * model->desc.out_features * 4u);
  if (result != SEQC_CU_SUCCESS)
    return driverFailure(result, "allocating input/output memory", model->name);
  model->hostRows = batch;
  return SEQC_CUDA_OK;
}

int seqc_cuda_model_run_host(seqc_cuda_model *model, const float *input,
                             float *output, uint64_t batch) {
  int status = checkRun(model, input, output, batch);
  if (status != SEQC_CUDA_OK || batch == 0)
    return status;
  status = enter(model);
  if (status != SEQC_CUDA_OK)
    return status;
  size_t inBytes = (size_t)batch * model->desc.in_features * 4u;
  size_t outBytes = (size_t)batch * model->desc.out_features * 4u;
  status = ensureHostBuffers(model, batch);
  if (status != SEQC_CUDA_OK)
    return leave(status);
  CUresult result =
      cu.cuMemcpyHtoDAsync(model->hostInput, input, inBytes, model->stream);
  if (result != SEQC_CU_SUCCESS)
    return leave(driverFailure(result, "copying the input", model->name));
  status = runOnDevice(model, model->hostInput, model->hostOutput, batch,
                       model->stream);
  if (status != SEQC_CUDA_OK)
    return leave(status);
  result =
      cu.cuMemcpyDtoHAsync(output, model->hostOutput, outBytes, model->stream);
  if (result == SEQC_CU_SUCCESS)
    result = cu.cuStreamSynchronize(model->stream);
  if (result != SEQC_CU_SUCCESS)
    return leave(driverFailure(result, "running the model", model->name));
  return leave(SEQC_CUDA_OK);
}

int seqc_cuda_model_synchronize(seqc_cuda_model *model) {
  if (!model)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT, "model is NULL");
  int status = enter(model);
  if (status != SEQC_CUDA_OK)
    return status;
  CUresult result = cu.cuCtxSynchronize();
  if (result != SEQC_CU_SUCCESS)
    return leave(driverFailure(result, "synchronizing", model->name));
  return leave(SEQC_CUDA_OK);
}

static double nowSeconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int seqc_cuda_model_benchmark(seqc_cuda_model *model, uint64_t batch,
                              uint32_t iterations, int wait_each,
                              double *seconds) {
  if (!seconds || iterations == 0)
    return fail(SEQC_CUDA_ERROR_INVALID_ARGUMENT,
                "benchmark needs iterations > 0 and a result pointer");
  *seconds = 0.0;
  int status = checkRun(model, model, model, batch);
  if (status != SEQC_CUDA_OK)
    return status;
  if (batch == 0)
    return SEQC_CUDA_OK;
  status = enter(model);
  if (status != SEQC_CUDA_OK)
    return status;
  status = ensureHostBuffers(model, batch);
  if (status != SEQC_CUDA_OK)
    return leave(status);
  CUresult result = cu.cuMemsetD32Async(
      model->hostInput, 0x3f000000u /* 0.5f */,
      (size_t)batch * model->desc.in_features, model->stream);
  if (result != SEQC_CU_SUCCESS)
    return leave(driverFailure(result, "cuMemsetD32Async", model->name));
  /* Warm-up: records the graph and runs it once. */
  status = runOnDevice(model, model->hostInput, model->hostOutput, batch,
                       model->stream);
  if (status == SEQC_CUDA_OK &&
      (result = cu.cuStreamSynchronize(model->stream)) != SEQC_CU_SUCCESS)
    status = driverFailure(result, "running the model", model->name);
  if (status != SEQC_CUDA_OK)
    return leave(status);
  double start = nowSeconds();
  for (uint32_t i = 0; i < iterations; ++i) {
    result = cu.cuGraphLaunch(model->graph, model->stream);
    if (result == SEQC_CU_SUCCESS && wait_each)
      result = cu.cuStreamSynchronize(model->stream);
    if (result != SEQC_CU_SUCCESS)
      return leave(driverFailure(result, "running the model", model->name));
  }
  result = cu.cuStreamSynchronize(model->stream);
  if (result != SEQC_CU_SUCCESS)
    return leave(driverFailure(result, "running the model", model->name));
  *seconds = (nowSeconds() - start) / (double)iterations;
  return leave(SEQC_CUDA_OK);
}
