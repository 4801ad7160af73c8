/* stack_probe.c - checks a generated header's footprint macros against the
 * code they describe (the cpu.footprint test, footprint.cmake).
 *
 * Built with -DP=PREFIX -DUP=UPPER_PREFIX -DHEADER="PREFIX.h" and linked
 * with PREFIX.o. It checks:
 *  - P_SCRATCH_BYTES(batch) == P_scratch_bytes(batch) for batches from 0 to
 *    beyond P_MAX_BATCH;
 *  - the stack: P_run runs on a thread whose stack this program allocated
 *    and painted (pthread_attr_setstack). The thread repaints the 256 KiB
 *    below its stack pointer and calls a wrapper, which notes its stack
 *    pointer right before it calls the model (callSp); after it, the
 *    lowest byte that lost the pattern, against callSp, gives the bytes
 *    the call used, its return address included, as the bound counts it.
 *    The client's own frames (the wrapper's too) are above callSp, so its
 *    allowance is 0 bytes. The use must
 *    not exceed P_STACK_BYTES; the same for P_run_parallel without a hook,
 *    and for one work item of P_run_parallel against P_TASK_STACK_BYTES,
 *    with a hook that runs each task on such a thread.
 * Prints the figures; exits 1 on a failed check. */
#include HEADER

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(P, name)
#define M(name) CAT(UP, name)

enum { kStackBytes = 1 << 20, kPaintBytes = 1 << 18, kPattern = 0xa5 };

static int failures;

/* One call of the model, with what it reads and writes. */
struct Job {
  size_t batch;
  float *input, *output;
  void *scratch;
  int parallel; /* P_run_parallel without a hook, else P_run */
  int status;
};

/* A thread's stack, which this program allocates and paints. */
struct Painted {
  unsigned char *stack;
  void (*call)(void *);
  void *arg;
  size_t used;
};

static uintptr_t stackPointer(void) {
  uintptr_t sp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
  return sp;
}

/* The stack pointer of the wrapper that calls the model, noted right
 * before the call (one painted thread runs at a time). */
static volatile uintptr_t callSp;

/* Repaints the kPaintBytes below this function's stack pointer, calls
 * painted->call (a wrapper that sets callSp and calls the model), and keeps
 * how far below callSp the model wrote: its return address and everything
 * the callee touched. Volatile stores, so no memset call writes where it
 * returns to. */
__attribute__((noinline)) static void *paintAndCall(void *arg) {
  struct Painted *painted = arg;
  uintptr_t sp = stackPointer();
  volatile unsigned char *low = (volatile unsigned char *)(sp - kPaintBytes);
  for (size_t i = 0; i < kPaintBytes; ++i)
    low[i] = kPattern;
  painted->call(painted->arg);
  size_t untouched = 0;
  while (untouched < kPaintBytes && low[untouched] == kPattern)
    ++untouched;
  uintptr_t lowest = (uintptr_t)(low + untouched);
  painted->used = untouched < kPaintBytes && lowest < callSp
                      ? (size_t)(callSp - lowest)
                      : 0;
  return NULL;
}

/* The stack bytes \p call(\p arg) uses on a thread whose stack this program
 * allocated (pthread_attr_setstack). */
static size_t stackUse(void (*call)(void *), void *arg) {
  struct Painted painted = {NULL, call, arg, 0};
  if (posix_memalign((void **)&painted.stack, 4096, kStackBytes) != 0) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  memset(painted.stack, kPattern, kStackBytes);
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, painted.stack, kStackBytes);
  if (pthread_create(&thread, &attr, paintAndCall, &painted) != 0) {
    fprintf(stderr, "cannot start a thread\n");
    exit(2);
  }
  pthread_join(thread, NULL);
  pthread_attr_destroy(&attr);
  free(painted.stack);
  return painted.used;
}

/* The tasks of P_run_parallel, each call on a painted thread of its own;
 * the deepest is kept. */
struct Task {
  FN(_task_fn) fn;
  void *ctx;
  size_t count;
};
static size_t taskHighWater;

static void runTask(void *arg) {
  struct Task *task = arg;
  callSp = stackPointer();
  task->fn(task->ctx, 0, task->count);
}

static void onPaintedThread(void *pool, size_t count, FN(_task_fn) fn,
                            void *ctx) {
  (void)pool;
  struct Task task = {fn, ctx, count};
  size_t used = stackUse(runTask, &task);
  if (used > taskHighWater)
    taskHighWater = used;
}

static void runModel(void *arg) {
  struct Job *job = arg;
  callSp = stackPointer();
  if (job->parallel)
    job->status = FN(_run_parallel)(job->input, job->output, job->batch,
                                    job->scratch, NULL, NULL);
  else
    job->status = FN(_run)(job->input, job->output, job->batch, job->scratch);
}

static void checkScratchMacro(void) {
  const size_t batches[] = {
      0, 1, 2, 7, 64, 1000, M(_MAX_BATCH), M(_MAX_BATCH) + 1};
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; ++i) {
    size_t b = batches[i];
    if (M(_SCRATCH_BYTES)(b) != FN(_scratch_bytes)(b)) {
      fprintf(stderr, "SCRATCH_BYTES(%zu) = %zu, scratch_bytes = %zu\n", b,
              (size_t)M(_SCRATCH_BYTES)(b), FN(_scratch_bytes)(b));
      ++failures;
    }
  }
}

int main(void) {
  checkScratchMacro();
  const size_t batches[] = {1, 3, 8, 64, 257};
  size_t worst = 0;
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; ++i) {
    size_t batch = batches[i];
    struct Job job = {batch, NULL, NULL, NULL, 0, 0};
    job.input = malloc(batch * M(_INPUT_FEATURES) * sizeof(float));
    job.output = malloc(batch * M(_OUTPUT_FEATURES) * sizeof(float));
    job.scratch = malloc(FN(_scratch_bytes)(batch) + 1);
    if (!job.input || !job.output || !job.scratch)
      return 2;
    for (size_t k = 0; k < batch * M(_INPUT_FEATURES); ++k)
      job.input[k] = (float)((k * 37) % 101) / 50.0f - 1.0f;
    /* Once on this thread first: the dynamic linker's lazy binding of
     * memcpy and the like is its stack, not the model's. */
    if (FN(_run)(job.input, job.output, batch, job.scratch) != M(_OK))
      return 2;
    for (job.parallel = 0; job.parallel <= 1; ++job.parallel) {
      size_t used = stackUse(runModel, &job);
      if (job.status != M(_OK)) {
        fprintf(stderr, "batch %zu: status %d\n", batch, job.status);
        ++failures;
      }
      if (used > worst)
        worst = used;
    }
    /* The hook runs each task on a painted thread of its own; this call
     * stays on the main thread, whose stack the hook's own work uses. */
    if (FN(_run_parallel)(job.input, job.output, batch, job.scratch,
                          onPaintedThread, NULL) != M(_OK))
      ++failures;
    free(job.input);
    free(job.output);
    free(job.scratch);
  }
  printf("stack: measured %zu bytes, bound %zu; work item: measured %zu, "
         "bound %zu\n",
         worst, (size_t)M(_STACK_BYTES), taskHighWater,
         (size_t)M(_TASK_STACK_BYTES));
  if (worst == 0 || worst > M(_STACK_BYTES)) {
    fprintf(stderr, "the stack bound %zu does not cover the %zu measured\n",
            (size_t)M(_STACK_BYTES), worst);
    ++failures;
  }
  if (taskHighWater > M(_TASK_STACK_BYTES)) {
    fprintf(stderr, "the work-item bound %zu does not cover the %zu measured\n",
            (size_t)M(_TASK_STACK_BYTES), taskHighWater);
    ++failures;
  }
  return failures ? 1 : 0;
}
