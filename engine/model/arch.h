/* arch.h — inside engine/model only: the config half of the architecture table (arch.c), for the
 * loaders and tests. ko_model_from_hf (loader.h) uses it and then fetches and checks the tensors. */
#ifndef KO_ARCH_H
#define KO_ARCH_H

#include <cjson/cJSON.h>

#include "engine/model/model.h"

/* Fills *cfg from an HF config.json object (for Gemma3ForConditionalGeneration the whole file: the
 * text model's keys are read from text_config), applying the defaults of transformers' config class
 * of that model_type where a key is absent. cfg->layer_sliding is malloc'd (free it, or let
 * ko_model_free do it once cfg is in a model). On failure nothing is left allocated. */
int ko_config_from_hf(const cJSON *config, ko_config *cfg, ko_err *e);

/* Makes e's message one line: control bytes (a newline inside a quoted tensor name or config string)
 * become '?'. Returns -1, for `return ko_err_one_line(e);` at an API boundary. */
int ko_err_one_line(ko_err *e);

/* The model_types the table knows, NULL-terminated (for messages and tests). */
extern const char *const ko_arch_types[];

#endif
