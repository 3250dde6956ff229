/* fake_corename.c - preloaded in front of OpenBLAS by cli_version.sh, it
 * plays a library that picked old kernels by itself: with OPENBLAS_CORETYPE
 * unset, openblas_get_corename() answers "Prescott", as Debian's 0.3.21
 * does on the Xeons it does not know; with the variable set, the real
 * library answers. So the test sees lorafit choose, start again and
 * report its choice, on any CPU with AVX. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char *openblas_get_corename(void) {
    if (!getenv("OPENBLAS_CORETYPE")) return "Prescott";
    char *(*real)(void) = (char *(*)(void))dlsym(RTLD_NEXT, "openblas_get_corename");
    return real ? real() : "unknown";
}
