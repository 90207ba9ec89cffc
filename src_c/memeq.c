#include "memeq.h"

#include <string.h>

int ls_memeq(const unsigned char *a, const unsigned char *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}
