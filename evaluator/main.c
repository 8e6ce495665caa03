/* koeval — evaluates language models on Korean benchmarks (KoBEST) the way lm-evaluation-harness
 * does. main() only parses the command line and dispatches; see commands.h. */
#include <stdio.h>
#include <string.h>

#include "evaluator/commands.h"

int main(int argc, char **argv) {
    ko_options o;
    bool help;
    ko_err e;
    if (ko_options_parse(argc, argv, &o, &help, &e)) {
        fprintf(stderr, "koeval: %s\n", e.msg);
        return KO_EXIT_USAGE;
    }
    if (help) {
        ko_options_usage(stdout);
        return KO_EXIT_OK;
    }
    if (strcmp(o.command, "requests") == 0) return ko_cmd_requests(&o);
    if (strcmp(o.command, "tokenize") == 0) return ko_cmd_tokenize(&o);
    return ko_cmd_run(&o);
}
