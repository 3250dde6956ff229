/* cmd_tokenize.c - `lorafit tokenize` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "lorafit/commands.h"

int cmd_tokenize(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: lorafit tokenize ...\n\n'lorafit tokenize' is not implemented yet in this version.\n");
        return 0;
    }
    fprintf(stderr, "lorafit tokenize: not implemented yet in this version\n");
    return 1;
}
