/* cmd_count_params.c - `lorafit count-params` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "lorafit/commands.h"

int cmd_count_params(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: lorafit count-params ...\n\n'lorafit count-params' is not implemented yet in this version.\n");
        return 0;
    }
    fprintf(stderr, "lorafit count-params: not implemented yet in this version\n");
    return 1;
}
