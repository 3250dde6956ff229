/* cmd_classify.c - `lorafit classify` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "lorafit/commands.h"

int cmd_classify(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: lorafit classify ...\n\n'lorafit classify' is not implemented yet in this version.\n");
        return 0;
    }
    fprintf(stderr, "lorafit classify: not implemented yet in this version\n");
    return 1;
}
