#include "heap.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int ls_heap_trim(void)
{
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}
