/* SPDX-License-Identifier: MIT */
/* chuted entry point (placeholder until the daemon lands). */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
        if (argc > 1 && strcmp(argv[1], "--version") == 0) {
                printf("chuted %s\n", PACKAGE_VERSION);
                return 0;
        }
        printf("usage: chuted [--config FILE] [--state-dir DIR] [--socket PATH] [--log-level LEVEL]\n");
        return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
