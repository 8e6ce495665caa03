/* pystr.c — see pystr.h. */
#include "tasks/pystr.h"

#include "tasks/tasks.h"

bool ko_py_isspace(uint32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20);
    switch (cp) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

/* Decodes the UTF-8 sequence at s[0..n); returns its length, or 0 if it is not valid. */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    uint32_t v = len == 1 ? c : c & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    *cp = v;
    return len;
}

size_t ko_py_rstrip_len(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    while (n > 0) {
        size_t start = n - 1;
        while (start > 0 && n - start < 4 && (s[start] & 0xc0) == 0x80) start--;
        uint32_t cp;
        size_t len = decode(s + start, n - start, &cp);
        if (len != n - start || !ko_py_isspace(cp)) break;
        n = start;
    }
    return n;
}

size_t ko_py_lstrip_len(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = decode(s + i, n - i, &cp);
        if (len == 0 || !ko_py_isspace(cp)) break;
        i += len;
    }
    return i;
}

bool ko_py_isdigits(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

size_t ko_split_trailing_ws(const char *context) {
    size_t n = 0;
    while (context[n]) n++;
    return ko_py_rstrip_len(context, n);
}
