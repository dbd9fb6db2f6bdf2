/* SPDX-License-Identifier: MIT */
/* chutectl entry point (placeholder until the client lands). */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
        if (argc > 1 && strcmp(argv[1], "--version") == 0) {
                printf("chutectl %s\n", PACKAGE_VERSION);
                return 0;
        }
        printf("usage: chutectl [--socket PATH] [--json] VERB [ARGS]\n");
        return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
