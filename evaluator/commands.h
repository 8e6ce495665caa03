/* commands.h — the koeval subcommands; each returns a process exit code (KO_EXIT_*). */
#ifndef KO_COMMANDS_H
#define KO_COMMANDS_H

#include "evaluator/options.h"

int ko_cmd_run(const ko_options *o);       /* evaluator/run.c */
int ko_cmd_requests(const ko_options *o);  /* evaluator/cmd_requests.c */
int ko_cmd_tokenize(const ko_options *o);  /* evaluator/cmd_tokenize.c */

#endif
