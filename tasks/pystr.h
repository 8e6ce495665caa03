/* pystr.h — the few Python str semantics task prompts depend on, over UTF-8:
 * str.isspace() per character (Unicode whitespace, not just ASCII) and str.strip()/rstrip()/lstrip()
 * without arguments. */
#ifndef KO_PYSTR_H
#define KO_PYSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Python's Py_UNICODE_ISSPACE: U+0009..U+000D, U+001C..U+001F, U+0020, U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
bool ko_py_isspace(uint32_t cp);
/* Length of s[0..n) without its trailing whitespace (str.rstrip()). */
size_t ko_py_rstrip_len(const char *s, size_t n);
/* Number of leading whitespace bytes of s[0..n) (what str.lstrip() removes). */
size_t ko_py_lstrip_len(const char *s, size_t n);
/* True when the whole of s is ASCII digits and non-empty (str.isdigit() for the texts tasks render). */
bool ko_py_isdigits(const char *s);

#endif
