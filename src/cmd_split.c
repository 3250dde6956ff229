/* cmd_split.c - `lorafit split` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "lorafit/commands.h"

int cmd_split(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: lorafit split ...\n\n'lorafit split' is not implemented yet in this version.\n");
        return 0;
    }
    fprintf(stderr, "lorafit split: not implemented yet in this version\n");
    return 1;
}
