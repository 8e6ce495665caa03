/* Placeholder until this command lands (being built in parallel); says so plainly. */
#include <stdio.h>

#include "evaluator/commands.h"

int ko_cmd_run(const ko_options *o) {
    (void)o;
    fputs("koeval: run: not available in this build yet\n", stderr);
    return KO_EXIT_NO_ENGINE;
}
