/*
 * Byte-for-byte equality of two buffers (memcmp, without the GIL).
 *
 * compare reads a layer both images share once; when the other image's copy
 * is another file, its bytes must still be proven to be the digest's.  Equal
 * bytes to a copy that hashed to the digest prove it at memcmp speed instead
 * of another sha256 pass (layerscope/source/image.py: LayerRef.same_bytes).
 *
 * The text between the cffi-cdef markers is handed verbatim to cffi's cdef()
 * by src_c/build_native.py, so it must stay plain C declarations.
 */
#ifndef LAYERSCOPE_MEMEQ_H
#define LAYERSCOPE_MEMEQ_H

#include <stddef.h>

/* cffi-cdef-begin */
/* 1 if the n bytes at a and b are equal, else 0. */
int ls_memeq(const unsigned char *a, const unsigned char *b, size_t n);
/* cffi-cdef-end */

#endif
