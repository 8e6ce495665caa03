/* template.h — the small template language task configs use for doc_to_text / doc_to_choice /
 * doc_to_target (lm-eval uses Jinja and Python helpers; these cover what KoBEST needs, as data).
 *
 *   text            copied as is (UTF-8, any characters except the two-brace opener)
 *   {{ field }}     the document's value of `field` (its exact text); an unknown field is an error,
 *                   like Jinja's StrictUndefined in lm-eval
 *   {{ field | f1 | f2 }}   the value passed through filters, left to right:
 *       strip, lstrip, rstrip   Python str.strip()/lstrip()/rstrip() (Unicode whitespace)
 *       map:TABLE               looks the value up in the config's "maps"[TABLE] object (string to
 *                               string); a missing key is an error (Python's KeyError)
 * Spaces inside the braces are ignored. Nothing else (no expressions, loops or escapes).
 */
#ifndef KO_TEMPLATE_H
#define KO_TEMPLATE_H

#include "common/ko.h"
#include "datasets/datasets.h"

struct cJSON;

/* Renders tmpl for doc into a malloc'd string (*out). maps: cJSON object of tables, or NULL. */
int ko_template_render(const char *tmpl, const ko_docrow *doc, const struct cJSON *maps, char **out,
                       ko_err *e);
/* Checks the template's syntax and filter names without a document (for config loading). */
int ko_template_check(const char *tmpl, const struct cJSON *maps, ko_err *e);

#endif
