/*===- ThreadPool.h - The parallel-for hook for generated models -*- C -*-===*
 *
 * Part of seqc's runtime (plain C ABI, no dependency beyond libc/pthreads).
 * A fixed pool of worker threads and seqc_parallel_for, whose signature
 * matches every generated PREFIX_parallel_for_fn:
 *
 *   seqc_thread_pool *pool = seqc_thread_pool_create(4);
 *   mnist_run_parallel(in, out, batch, scratch, seqc_parallel_for, pool);
 *   seqc_thread_pool_destroy(pool);
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQC_RUNTIME_THREADPOOL_H
#define SEQC_RUNTIME_THREADPOOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seqc_thread_pool seqc_thread_pool;

/* Creates a pool that runs work on `threads` threads in total: the caller of
 * seqc_parallel_for plus threads - 1 workers. 0 means one per hardware
 * thread. Returns NULL when the threads cannot be started. */
seqc_thread_pool *seqc_thread_pool_create(unsigned threads);

/* Stops and joins the workers. NULL is ignored. */
void seqc_thread_pool_destroy(seqc_thread_pool *pool);

/* Threads the pool runs work on (including the caller). */
unsigned seqc_thread_pool_size(const seqc_thread_pool *pool);

/* Calls task(ctx, begin, end) on contiguous, disjoint ranges that cover
 * [0, count) -- handed out in chunks to whichever thread is free, so a
 * thread the OS delays does not hold up the rest; each chunk is
 * 1 / (2 * threads) of the items not yet handed out, at least one -- and
 * returns when all have finished. `pool` is a seqc_thread_pool (NULL runs
 * serially on the calling thread). Calls from several threads at once are
 * serialised. */
void seqc_parallel_for(void *pool, size_t count,
                       void (*task)(void *ctx, size_t begin, size_t end),
                       void *ctx);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SEQC_RUNTIME_THREADPOOL_H */
