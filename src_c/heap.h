/*
 * Give the C heap's free memory back to the operating system.
 *
 * A compressed layer streams through 1 MiB chunks made on one thread and
 * freed on others.  glibc's malloc raises its mmap threshold after the
 * first such chunk is freed, so later chunks come from per-thread arenas,
 * whose free space it keeps: peak RSS grows by tens of MB over a
 * multi-GB layer although the live data stays a few MB.  Trimming every
 * so often (layerscope/heap.py) hands that free space back at a few
 * milliseconds a call.  Other C libraries have no such call: there it is a
 * no-op.
 *
 * The text between the cffi-cdef markers is handed verbatim to cffi's cdef()
 * by src_c/build_native.py, so it must stay plain C declarations.
 */
#ifndef LAYERSCOPE_HEAP_H
#define LAYERSCOPE_HEAP_H

/* cffi-cdef-begin */
/* 1 if memory was released, 0 if not (or not supported by this C library). */
int ls_heap_trim(void);
/* cffi-cdef-end */

#endif
