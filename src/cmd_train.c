/* cmd_train.c - `lorafit train` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "lorafit/commands.h"

int cmd_train(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: lorafit train ...\n\n'lorafit train' is not implemented yet in this version.\n");
        return 0;
    }
    fprintf(stderr, "lorafit train: not implemented yet in this version\n");
    return 1;
}
