/* cmd_eval.c - `lorafit eval` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "lorafit/commands.h"

int cmd_eval(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: lorafit eval ...\n\n'lorafit eval' is not implemented yet in this version.\n");
        return 0;
    }
    fprintf(stderr, "lorafit eval: not implemented yet in this version\n");
    return 1;
}
