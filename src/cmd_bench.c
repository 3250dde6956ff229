/* cmd_bench.c - `lorafit bench` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "lorafit/commands.h"

int cmd_bench(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: lorafit bench ...\n\n'lorafit bench' is not implemented yet in this version.\n");
        return 0;
    }
    fprintf(stderr, "lorafit bench: not implemented yet in this version\n");
    return 1;
}
