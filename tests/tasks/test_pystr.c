/* test_pystr.c — Python str semantics: ko_split_trailing_ws is str.rstrip() (Unicode whitespace),
 * strip/lstrip and isspace. Expected values are what CPython 3.11 returns for the same strings. */
#include "tasks/pystr.h"
#include "tasks/tasks.h"
#include "tests/test.h"

int main(void) {
    /* ASCII whitespace, including \x1c-\x1f which Python counts as whitespace. */
    CHECK_EQ_INT(ko_split_trailing_ws("답변: "), strlen("답변:"));
    CHECK_EQ_INT(ko_split_trailing_ws("a \t\n\r\v\f"), 1);
    CHECK_EQ_INT(ko_split_trailing_ws("a\x1c\x1d\x1e\x1f"), 1);
    CHECK_EQ_INT(ko_split_trailing_ws("   "), 0);
    CHECK_EQ_INT(ko_split_trailing_ws(""), 0);
    CHECK_EQ_INT(ko_split_trailing_ws("no space"), 8);
    /* Unicode whitespace: NBSP U+00A0, NEL U+0085, ideographic space U+3000, U+2009, U+202F, U+205F. */
    CHECK_EQ_INT(ko_split_trailing_ws("x\xc2\xa0"), 1);
    CHECK_EQ_INT(ko_split_trailing_ws("x\xc2\x85"), 1);
    CHECK_EQ_INT(ko_split_trailing_ws("가\xe3\x80\x80 \xe2\x80\x89\xe2\x80\xaf\xe2\x81\x9f"), 3);
    CHECK_EQ_INT(ko_split_trailing_ws("x\xe1\x9a\x80\xe2\x80\xa8\xe2\x80\xa9"), 1); /* U+1680 U+2028 U+2029 */
    /* Not whitespace in Python: ZERO WIDTH SPACE U+200B, BOM U+FEFF, U+180E (Mongolian vowel sep.). */
    CHECK_EQ_INT(ko_split_trailing_ws("x\xe2\x80\x8b"), 4);
    CHECK_EQ_INT(ko_split_trailing_ws("x\xef\xbb\xbf"), 4);
    CHECK_EQ_INT(ko_split_trailing_ws("x\xe1\xa0\x8e"), 4);
    /* A Hangul syllable ends in bytes that are not whitespace; invalid UTF-8 stays. */
    CHECK_EQ_INT(ko_split_trailing_ws("한 "), 3);
    CHECK_EQ_INT(ko_split_trailing_ws("x\x80 "), 2);
    CHECK_EQ_INT(ko_split_trailing_ws("x\xa0"), 2);
    /* lstrip and isspace. */
    CHECK_EQ_INT(ko_py_lstrip_len("\xe3\x80\x80 \t결과", strlen("\xe3\x80\x80 \t결과")), 5);
    CHECK_EQ_INT(ko_py_lstrip_len("결과 ", strlen("결과 ")), 0);
    CHECK(ko_py_isspace(0x2000) && ko_py_isspace(0x200a) && !ko_py_isspace(0x200b), "U+2000..U+200A");
    CHECK(!ko_py_isspace('a') && !ko_py_isspace(0xa0 + 1) && ko_py_isspace(0x0b), "isspace");
    CHECK(ko_py_isdigits("0") && ko_py_isdigits("12") && !ko_py_isdigits("") && !ko_py_isdigits("1a"), "isdigits");
    TEST_END();
}
