/* tok_utf8.c — UTF-8 coding, the character classes HF's Rust code asks about, GPT-2's byte table,
 * and Rust's from_utf8_lossy. */
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer/tok_internal.h"

int tk_utf8_dec(const char *s, size_t n, int32_t *cp) {
    (void)n; /* s starts a whole character of valid UTF-8: every caller's text was validated */
    const uint8_t *u = (const uint8_t *)s;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] < 0xe0) {
        *cp = ((u[0] & 0x1f) << 6) | (u[1] & 0x3f);
        return 2;
    }
    if (u[0] < 0xf0) {
        *cp = ((u[0] & 0x0f) << 12) | ((u[1] & 0x3f) << 6) | (u[2] & 0x3f);
        return 3;
    }
    *cp = ((u[0] & 0x07) << 18) | ((u[1] & 0x3f) << 12) | ((u[2] & 0x3f) << 6) | (u[3] & 0x3f);
    return 4;
}

int tk_utf8_enc(int32_t cp, char out[4]) {
    return (int)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out);
}

bool tk_is_whitespace(int32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

bool tk_is_punct(int32_t c) {
    if (c < 0x80) return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) ||
                         (c >= 0x7b && c <= 0x7e);
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool tk_is_word(int32_t c) {
    /* the symbols that are Other_Alphabetic: circled and squared Latin letters */
    static const int32_t SO_ALPHA[][2] = {{0x24b6, 0x24e9}, {0x1f130, 0x1f149}, {0x1f150, 0x1f169}, {0x1f170, 0x1f189}};
    utf8proc_category_t k = utf8proc_category(c);
    if (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_NL) return true; /* L*, M*, Nd, Nl */
    if (k == UTF8PROC_CATEGORY_PC || c == 0x200c || c == 0x200d) return true; /* connectors, ZWNJ, ZWJ */
    for (int i = 0; i < 4; i++)
        if (c >= SO_ALPHA[i][0] && c <= SO_ALPHA[i][1]) return true;
    return false;
}

/* bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 to U+0100.. in byte
 * order (0x00-0x20, 0x7f-0xa0, 0xad). */
static bool printable(uint8_t b) { return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae; }

int32_t tk_byte2cp(uint8_t b) {
    if (printable(b)) return b;
    if (b <= 0x20) return 256 + b;
    if (b <= 0xa0) return 289 + (b - 0x7f); /* 0x7f-0xa0: the only others left are these and 0xad */
    return 323; /* 0xad */
}

int tk_cp2byte(int32_t cp) {
    if (cp < 256) return printable((uint8_t)cp) ? cp : -1;
    if (cp <= 288) return cp - 256;
    if (cp <= 322) return cp - 289 + 0x7f;
    return cp == 323 ? 0xad : -1;
}

/* Length of the valid UTF-8 sequence at s, or 0; *bad gets the length of the maximal invalid
 * prefix to replace by one U+FFFD (Unicode's "maximal subpart" rule, which Rust follows). */
static int utf8_seq(const uint8_t *s, size_t n, int *bad) {
    uint8_t c = s[0];
    int need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        *bad = 1;
        return 0;
    }
    int i = 1;
    for (; i <= need; i++) {
        if ((size_t)i >= n) break;
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) break;
    }
    if (i > need) return need + 1;
    *bad = i;
    return 0;
}

void tk_put_lossy(ko_buf *b, const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        int bad = 0;
        int k = utf8_seq(u + i, n - i, &bad);
        if (k) {
            i += (size_t)k;
            continue;
        }
        ko_buf_put(b, s + run, i - run);
        ko_buf_puts(b, "\xef\xbf\xbd");
        i += (size_t)bad;
        run = i;
    }
    ko_buf_put(b, s + run, n - run);
}

const char *tk_printable(const char *s, size_t n, char buf[TK_PRINTABLE]) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < TK_PRINTABLE; i++)
        buf[k++] = (uint8_t)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (k + 4 >= TK_PRINTABLE && n > k) memcpy(buf + k, "...", 3), k += 3;
    buf[k] = 0;
    return buf;
}
