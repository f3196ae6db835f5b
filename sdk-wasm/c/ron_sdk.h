/*
 * ron_sdk.h - a small SDK for ronhost TLD plugins in C (ABI v1): a JSON
 * reader and writer of our own, field errors, the exact split helpers, and
 * the entry points themselves, so a plugin's C file holds only its
 * namespace's rules. It needs ron_plugin.h and wasi-libc, nothing else.
 *
 * Include it in exactly one C file of the module (it defines the exports).
 * That file defines:
 *
 *   const ron_description *ron_plugin_describe(void);
 *   void ron_plugin_validate(const ron_validate_in *in, ron_validate_out *out, ron_errors *errs);
 *   void ron_plugin_split(const ron_split_in *in, ron_allocs *out, ron_errors *errs);
 *
 * and, with `#define RON_PLUGIN_RESOLVE` before the include (describe then
 * lists the feature "resolve"), ron_plugin_resolve. `#define
 * RON_PLUGIN_DATES` asks for ABI v1.1's tagged dates and times (see "dates
 * and times" below).
 *
 * What the SDK does before a rule runs, so rules see only well-formed
 * documents: the input is at most 1 MiB of valid UTF-8, one JSON object
 * nested at most 64 deep, without a duplicate key or a key over 1 KiB,
 * with a manifest object whose [meta] table holds a string tld; amounts,
 * counts and sizes are integers from 0 to 2^53-1; servers are sorted by
 * (payout, node, bytes, requests). Anything else is status 1 with a field
 * error. After a rule: errors recorded in errs make status 1 (sorted by
 * path, code, message); a split that does not add up to the amount, or pays
 * an empty payee or role, is status 2 with code "contract"; the validated
 * manifest is the input one with the plugin's table replaced, in canonical
 * form (object keys sorted, compact).
 *
 * Memory: every value a call hands a rule lives until the call returns.
 * Build (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32):
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -o plugin.wasm plugin.c
 */
#ifndef RON_SDK_H
#define RON_SDK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ron_plugin.h"

#define RON_MAX_DEPTH 64
#define RON_MAX_KEY_BYTES 1024

/* ---- memory: an arena freed at the end of each call ---- */

typedef struct ron_chunk {
	struct ron_chunk *next;
	size_t used, cap;
	/* data follows */
} ron_chunk;

static ron_chunk *ron_arena_ = NULL;
static size_t ron_arena_total_ = 0; /* bytes in the arena's chunks */

/* Adds a chunk for at least n bytes. Chunks grow with the arena (each as
 * large as all before it, from 64 KiB to 1 MiB), so a call that builds a
 * large tree grows the module's memory tens of times, not once per 64 KiB
 * (a growth may copy the whole memory), and leaves under 1 MiB unused (a
 * growth costs fuel by the byte). */
__attribute__((noinline)) static void *ron_alloc_chunk_(size_t n) {
	size_t cap = ron_arena_total_ < 65536 ? 65536 : ron_arena_total_ > 1048576 ? 1048576 : ron_arena_total_;
	if (cap < n) cap = n;
	ron_chunk *c = (ron_chunk *)malloc(sizeof(ron_chunk) + cap);
	if (c == NULL) return NULL;
	c->next = ron_arena_;
	c->used = n;
	c->cap = cap;
	ron_arena_ = c;
	ron_arena_total_ += cap;
	return c + 1;
}

/* Allocates n bytes that live until the call ends (NULL when memory is out). */
static inline void *ron_alloc(size_t n) {
	n = (n + 7) & ~(size_t)7;
	if (ron_arena_ == NULL || ron_arena_->cap - ron_arena_->used < n) return ron_alloc_chunk_(n);
	void *p = (char *)(ron_arena_ + 1) + ron_arena_->used;
	ron_arena_->used += n;
	return p;
}

static inline void ron_arena_free(void) {
	while (ron_arena_ != NULL) {
		ron_chunk *next = ron_arena_->next;
		free(ron_arena_);
		ron_arena_ = next;
	}
	ron_arena_total_ = 0;
}

/* A copy of s[0:n] with a NUL after it, in the arena. */
static inline char *ron_strndup(const char *s, size_t n) {
	char *p = (char *)ron_alloc(n + 1);
	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

/* ---- JSON values ---- */

typedef enum {
	RON_JSON_NULL,
	RON_JSON_FALSE,
	RON_JSON_TRUE,
	RON_JSON_NUMBER,
	RON_JSON_STRING,
	RON_JSON_ARRAY,
	RON_JSON_OBJECT
} ron_json_type;

typedef struct ron_json ron_json;
struct ron_json {
	ron_json_type type;
	const char *key;  /* member name (decoded, NUL-terminated) inside an object, else NULL */
	size_t key_len;
	const char *s;    /* STRING: decoded UTF-8, NUL-terminated; NUMBER: as written */
	size_t len;
	ron_json *first;  /* ARRAY, OBJECT: the first element */
	ron_json *next;   /* the next element of the parent */
	size_t n;         /* ARRAY, OBJECT: the number of elements */
};

/* The member key of object v, or NULL (also when v is not an object). */
static inline const ron_json *ron_json_get(const ron_json *v, const char *key) {
	if (v == NULL || v->type != RON_JSON_OBJECT) return NULL;
	size_t n = strlen(key);
	for (const ron_json *m = v->first; m != NULL; m = m->next)
		if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
	return NULL;
}

/* The text of a string value, or NULL for anything else. */
static inline const char *ron_json_str(const ron_json *v) {
	return v != NULL && v->type == RON_JSON_STRING ? v->s : NULL;
}

/* Reads a JSON integer from 0 to 2^53-1 into *out; 0 for anything else. */
static inline int ron_json_u64(const ron_json *v, uint64_t *out) {
	if (v == NULL || v->type != RON_JSON_NUMBER || v->len == 0 || v->len > 16) return 0;
	uint64_t x = 0;
	for (size_t i = 0; i < v->len; i++) {
		char c = v->s[i];
		if (c < '0' || c > '9' || (i == 0 && c == '0' && v->len > 1)) return 0;
		x = x * 10 + (uint64_t)(c - '0');
	}
	if (x > RON_MAX_AMOUNT) return 0;
	*out = x;
	return 1;
}

/* ---- the reader ----
 *
 * One pass over the input, in place: strings are decoded where they stand
 * (a decoded string is never longer than its JSON text, and its closing
 * quote becomes its NUL), numbers point at their text, and only the tree's
 * nodes are allocated. Containers are kept on an explicit stack, not by
 * recursion. Runs of plain string bytes are scanned 8 at a time. The input
 * must be followed by RON_PAD_ zero bytes, so the reader needs no bounds
 * checks in its inner loops: a 0 stops every one of them. */

#define RON_PAD_ 8

typedef struct {
	char *b;
	size_t n, i;
	const char *code; /* set on error */
	char msg[160];
} ron_parser;

__attribute__((noinline)) static int ron_fail_(ron_parser *p, const char *code, const char *what) {
	if (p->code == NULL) {
		p->code = code;
		snprintf(p->msg, sizeof p->msg, "%s at byte %lu", what, (unsigned long)p->i);
	}
	return 0;
}

static inline int ron_is_ws_(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
static inline int ron_is_digit_(char c) { return (unsigned char)(c - '0') < 10; }

/* Moves past white space. The host sends compact JSON, so the loop is
 * entered only when there is some. */
static inline void ron_ws_(ron_parser *p) {
	if (ron_is_ws_(p->b[p->i])) {
		do p->i++;
		while (ron_is_ws_(p->b[p->i]));
	}
}

static inline uint64_t ron_load8_(const char *s) {
	uint64_t x;
	memcpy(&x, s, 8);
	return x;
}

#define RON_ONES_ 0x0101010101010101ULL
#define RON_HIGHS_ 0x8080808080808080ULL

/* A mask whose lowest set bit is in the first of the 8 bytes of x (little
 * endian) that is '"', '\\', under 0x20 or over 0x7f; 0 when none is. */
static inline uint64_t ron_special8_(uint64_t x) {
	uint64_t q = x ^ (RON_ONES_ * '"'), s = x ^ (RON_ONES_ * '\\');
	return (((q - RON_ONES_) & ~q) | ((s - RON_ONES_) & ~s) | ((x - RON_ONES_ * 0x20) & ~x) | x) & RON_HIGHS_;
}

/* Decodes 4 hex digits at s (stops at the first other byte). */
static inline int ron_hex4_(const char *s, uint32_t *out) {
	uint32_t x = 0;
	for (int k = 0; k < 4; k++) {
		char c = s[k];
		x <<= 4;
		if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f') x |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') x |= (uint32_t)(c - 'A' + 10);
		else return 0;
	}
	*out = x;
	return 1;
}

static inline size_t ron_utf8_put_(char *d, uint32_t r) {
	if (r < 0x80) { d[0] = (char)r; return 1; }
	if (r < 0x800) { d[0] = (char)(0xc0 | (r >> 6)); d[1] = (char)(0x80 | (r & 0x3f)); return 2; }
	if (r < 0x10000) { d[0] = (char)(0xe0 | (r >> 12)); d[1] = (char)(0x80 | ((r >> 6) & 0x3f)); d[2] = (char)(0x80 | (r & 0x3f)); return 3; }
	d[0] = (char)(0xf0 | (r >> 18)); d[1] = (char)(0x80 | ((r >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((r >> 6) & 0x3f)); d[3] = (char)(0x80 | (r & 0x3f));
	return 4;
}

/* The length of the valid UTF-8 sequence at s, or 0 (the zero padding
 * ends a truncated one). */
static inline size_t ron_utf8_len_(const unsigned char *s) {
	unsigned char c = s[0];
	if (c < 0x80) return 1;
	if (c >= 0xc2 && c <= 0xdf) return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return 0;
		if (c == 0xe0 && s[1] < 0xa0) return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0) return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80) return 0;
		if (c == 0xf0 && s[1] < 0x90) return 0;
		if (c == 0xf4 && s[1] >= 0x90) return 0;
		return 4;
	}
	return 0;
}

/* Why the byte at j, special in a string, ends it badly. */
static inline int ron_string_fail_(ron_parser *p, size_t j) {
	p->i = j;
	if (j >= p->n) return ron_fail_(p, "syntax", "unterminated string");
	if ((unsigned char)p->b[j] < 0x20) return ron_fail_(p, "syntax", "control character in a string");
	return ron_fail_(p, "syntax", "invalid UTF-8");
}

/* The rest of a string from its first backslash, at j, decoded in place
 * (w is where the next decoded byte goes). */
__attribute__((noinline)) static int ron_string_escaped_(ron_parser *p, size_t start, size_t j, size_t *outlen) {
	char *b = p->b;
	size_t w = j;
	for (;;) {
		unsigned char c = (unsigned char)b[j];
		if (c == '"') break;
		if (c >= 0x20 && c < 0x80 && c != '\\') { b[w++] = (char)c; j++; continue; }
		if (c >= 0x80) {
			size_t k = ron_utf8_len_((const unsigned char *)b + j);
			if (k == 0) return ron_string_fail_(p, j);
			memmove(b + w, b + j, k);
			w += k, j += k;
			continue;
		}
		if (c != '\\') return ron_string_fail_(p, j);
		p->i = j;
		char e = b[j + 1];
		j += 2;
		switch (e) {
		case '"': b[w++] = '"'; break;
		case '\\': b[w++] = '\\'; break;
		case '/': b[w++] = '/'; break;
		case 'b': b[w++] = '\b'; break;
		case 'f': b[w++] = '\f'; break;
		case 'n': b[w++] = '\n'; break;
		case 'r': b[w++] = '\r'; break;
		case 't': b[w++] = '\t'; break;
		case 'u': {
			uint32_t r, lo;
			if (!ron_hex4_(b + j, &r)) return ron_fail_(p, "syntax", "invalid \\u escape");
			j += 4;
			if (r >= 0xd800 && r < 0xdc00) {
				if (b[j] != '\\' || b[j + 1] != 'u' || !ron_hex4_(b + j + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return ron_fail_(p, "syntax", "a lone UTF-16 surrogate");
				j += 6;
				r = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
			} else if (r >= 0xdc00 && r < 0xe000) {
				return ron_fail_(p, "syntax", "a lone UTF-16 surrogate");
			}
			w += ron_utf8_put_(b + w, r);
			break;
		}
		default:
			return ron_fail_(p, "syntax", j - 1 >= p->n ? "unterminated string" : "invalid escape");
		}
	}
	b[w] = 0;
	*outlen = w - start;
	p->i = j + 1;
	return 1;
}

/* Reads the string whose opening quote is at p->i, decoding it in place;
 * *out points at its bytes, NUL-terminated. */
static inline int ron_string_(ron_parser *p, const char **out, size_t *outlen) {
	char *b = p->b;
	size_t start = p->i + 1, j = start;
	*out = b + start;
	for (;;) {
		uint64_t m = ron_special8_(ron_load8_(b + j));
		if (m == 0) { j += 8; continue; }
		j += (size_t)__builtin_ctzll(m) >> 3;
		unsigned char c = (unsigned char)b[j];
		if (c == '"') break;
		if (c == '\\') return ron_string_escaped_(p, start, j, outlen);
		size_t k = c >= 0x80 ? ron_utf8_len_((const unsigned char *)b + j) : 0;
		if (k == 0) return ron_string_fail_(p, j);
		j += k;
	}
	b[j] = 0;
	*outlen = j - start;
	p->i = j + 1;
	return 1;
}

/* The index after the digits from b[i], a digit: a one-digit run costs no
 * loop pass, longer ones one per 8 digits. */
static inline size_t ron_digits_(const char *b, size_t i) {
	if (!ron_is_digit_(b[++i])) return i;
	for (;;) {
		uint64_t x = ron_load8_(b + i);
		/* high bits of the bytes under '0', over '9', or over 0x7f */
		uint64_t m = ((x - RON_ONES_ * '0') | (x + RON_ONES_ * (0x80 - ':')) | x) & RON_HIGHS_;
		if (m != 0) return i + ((size_t)__builtin_ctzll(m) >> 3);
		i += 8;
	}
}

/* Checks the number at p->i and moves past it. */
static inline int ron_number_(ron_parser *p) {
	const char *b = p->b;
	size_t i = p->i;
	if (b[i] == '-') i++;
	if (b[i] == '0') i++;
	else if (ron_is_digit_(b[i])) i = ron_digits_(b, i);
	else return ron_fail_(p, "syntax", "invalid number");
	if (b[i] == '.') {
		if (!ron_is_digit_(b[++i])) return ron_fail_(p, "syntax", "invalid number");
		i = ron_digits_(b, i);
	}
	if (b[i] == 'e' || b[i] == 'E') {
		i++;
		if (b[i] == '+' || b[i] == '-') i++;
		if (!ron_is_digit_(b[i])) return ron_fail_(p, "syntax", "invalid number");
		i = ron_digits_(b, i);
	}
	p->i = i;
	return 1;
}

static inline uint32_t ron_hash_(const char *s, size_t n) {
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Refuses duplicate keys: pairwise for small objects, a hash table for large ones. */
__attribute__((noinline)) static int ron_check_dups_(ron_parser *p, const ron_json *obj) {
	if (obj->n <= 8) {
		for (const ron_json *a = obj->first; a != NULL; a = a->next)
			for (const ron_json *b = a->next; b != NULL; b = b->next)
				if (a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0)
					return ron_fail_(p, "duplicate", "duplicate key in an object");
		return 1;
	}
	size_t cap = 32;
	while (cap < obj->n * 2) cap *= 2;
	const ron_json **slots = (const ron_json **)calloc(cap, sizeof *slots);
	if (slots == NULL) return ron_fail_(p, "too-large", "out of memory");
	int ok = 1;
	for (const ron_json *m = obj->first; m != NULL && ok; m = m->next) {
		size_t k = ron_hash_(m->key, m->key_len) & (cap - 1);
		while (slots[k] != NULL) {
			if (slots[k]->key_len == m->key_len && memcmp(slots[k]->key, m->key, m->key_len) == 0) { ok = 0; break; }
			k = (k + 1) & (cap - 1);
		}
		slots[k] = m;
	}
	free(slots);
	return ok ? 1 : ron_fail_(p, "duplicate", "duplicate key in an object");
}

/* Parses p->b[0:p->n] (followed by RON_PAD_ zero bytes, and changed in
 * place), which must be exactly one JSON value. */
static inline ron_json *ron_parse_(ron_parser *p) {
	char *b = p->b;
	ron_json *stack[RON_MAX_DEPTH], *last[RON_MAX_DEPTH]; /* open containers, their last elements */
	int depth = 0;
	ron_json *root = NULL;
	for (;;) { /* one pass per value */
		ron_json *parent = depth > 0 ? stack[depth - 1] : NULL;
		const char *key = NULL;
		size_t klen = 0;
		ron_ws_(p);
		if (parent != NULL && parent->type == RON_JSON_OBJECT) {
			size_t at = p->i;
			if (b[at] != '"') { ron_fail_(p, "syntax", "want a member name"); return NULL; }
			if (!ron_string_(p, &key, &klen)) return NULL;
			if (p->i - at - 2 > RON_MAX_KEY_BYTES) { p->i = at; ron_fail_(p, "too-large", "a key over 1024 bytes"); return NULL; }
			ron_ws_(p);
			if (b[p->i] != ':') { ron_fail_(p, "syntax", "want ':' after a member name"); return NULL; }
			p->i++;
			ron_ws_(p);
		}
		ron_json *v = (ron_json *)ron_alloc(sizeof *v);
		if (v == NULL) { ron_fail_(p, "too-large", "out of memory"); return NULL; }
		*v = (ron_json){RON_JSON_NULL, key, klen, NULL, 0, NULL, NULL, 0};
		if (parent == NULL) root = v;
		else {
			if (parent->first == NULL) parent->first = v; else last[depth - 1]->next = v;
			last[depth - 1] = v;
			parent->n++;
		}
		char c = b[p->i];
		switch (c) {
		case '{':
		case '[':
			if (depth >= RON_MAX_DEPTH) { ron_fail_(p, "too-large", "input nests deeper than 64 levels"); return NULL; }
			v->type = c == '{' ? RON_JSON_OBJECT : RON_JSON_ARRAY;
			stack[depth++] = v;
			p->i++;
			ron_ws_(p);
			if (b[p->i] != (c == '{' ? '}' : ']')) continue; /* its first element is next */
			break; /* empty: closed below */
		case '"':
			v->type = RON_JSON_STRING;
			if (!ron_string_(p, &v->s, &v->len)) return NULL;
			break;
		case 't':
			if (memcmp(b + p->i, "true", 4) != 0) goto bad;
			v->type = RON_JSON_TRUE;
			p->i += 4;
			break;
		case 'f':
			if (memcmp(b + p->i, "false", 5) != 0) goto bad;
			v->type = RON_JSON_FALSE;
			p->i += 5;
			break;
		case 'n':
			if (memcmp(b + p->i, "null", 4) != 0) goto bad;
			p->i += 4;
			break;
		default:
			if (c != '-' && !ron_is_digit_(c)) goto bad;
			v->type = RON_JSON_NUMBER;
			v->s = b + p->i;
			if (!ron_number_(p)) return NULL;
			v->len = (size_t)(b + p->i - v->s);
		}
		/* After a value: a ',' starts the next one; closing brackets end
		 * containers (an empty one's bracket is still ahead). */
		ron_ws_(p);
		if (depth > 0 && b[p->i] != ',') do {
			ron_json *top = stack[depth - 1];
			c = b[p->i];
			if (c != (top->type == RON_JSON_OBJECT ? '}' : ']')) {
				if (p->i >= p->n) ron_fail_(p, "syntax", "unexpected end of input");
				else ron_fail_(p, "syntax", top->type == RON_JSON_OBJECT ? "want ',' or '}' in an object" : "want ',' or ']' in an array");
				return NULL;
			}
			if (top->type == RON_JSON_OBJECT && top->n > 1 && !ron_check_dups_(p, top)) return NULL;
			depth--;
			p->i++;
			ron_ws_(p);
		} while (depth > 0 && b[p->i] != ',');
		if (depth == 0) {
			if (p->i != p->n) { ron_fail_(p, "syntax", "data after the object"); return NULL; }
			return root;
		}
		p->i++; /* the ',' */
	}
bad:
	ron_fail_(p, "syntax", p->i >= p->n ? "unexpected end of input" : "unexpected character");
	return NULL;
}

/* Parses b[0:n] in place (b is followed by RON_PAD_ zero bytes), which must
 * be exactly one JSON object. */
static inline ron_json *ron_json_parse_in_place_(ron_parser *p, char *b, size_t n) {
	memset(p, 0, sizeof *p);
	p->b = b;
	p->n = n;
	if (n > RON_MAX_INPUT_BYTES) { ron_fail_(p, "too-large", "input over 1 MiB"); return NULL; }
	ron_ws_(p);
	if (p->i >= n) { ron_fail_(p, "syntax", "empty input"); return NULL; }
	if (b[p->i] != '{') { ron_fail_(p, "type", "input is not a JSON object"); return NULL; }
	return ron_parse_(p);
}

/* A copy of b[0:n] followed by RON_PAD_ zero bytes, in the arena. */
static inline char *ron_padded_copy_(const char *b, size_t n) {
	char *c = (char *)ron_alloc(n + RON_PAD_);
	if (c != NULL) {
		memcpy(c, b, n);
		memset(c + n, 0, RON_PAD_);
	}
	return c;
}

/* Parses b[0:n], which must be exactly one JSON object; NULL with p->code
 * and p->msg set otherwise. The tree lives in the arena until the call ends. */
static inline ron_json *ron_json_parse(ron_parser *p, const char *b, size_t n) {
	char *c = n <= RON_MAX_INPUT_BYTES ? ron_padded_copy_(b, n) : NULL;
	if (c == NULL) {
		memset(p, 0, sizeof *p);
		ron_fail_(p, "too-large", n > RON_MAX_INPUT_BYTES ? "input over 1 MiB" : "out of memory");
		return NULL;
	}
	return ron_json_parse_in_place_(p, c, n);
}

/* ---- the writer ---- */

typedef struct {
	char *p;
	size_t len, cap;
	int failed; /* out of memory, or over RON_MAX_OUTPUT_BYTES */
} ron_buf;

static inline void ron_buf_bytes(ron_buf *b, const void *s, size_t n) {
	if (b->failed) return;
	if (b->len + n > RON_MAX_OUTPUT_BYTES) { b->failed = 1; return; }
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n) cap *= 2;
		char *q = (char *)realloc(b->p, cap);
		if (q == NULL) { b->failed = 1; return; }
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void ron_buf_cstr(ron_buf *b, const char *s) { ron_buf_bytes(b, s, strlen(s)); }

static inline void ron_buf_free(ron_buf *b) {
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Appends s[0:n] as a JSON string (escaped as ronhost's SDKs do). Runs of
 * bytes that need no escape are skipped 8 at a time and copied at once. */
static inline void ron_buf_string(ron_buf *b, const char *s, size_t n) {
	static const char hex[] = "0123456789abcdef";
	ron_buf_bytes(b, "\"", 1);
	size_t start = 0;
	for (size_t i = 0; i < n;) {
		if (n - i >= 8) {
			uint64_t m = ron_special8_(ron_load8_(s + i));
			if (m == 0) { i += 8; continue; }
			i += (size_t)__builtin_ctzll(m) >> 3;
		}
		unsigned char c = (unsigned char)s[i];
		const char *rep = NULL;
		size_t skip = 1;
		char u[7];
		if (c == '"') rep = "\\\"";
		else if (c == '\\') rep = "\\\\";
		else if (c == '\n') rep = "\\n";
		else if (c == '\r') rep = "\\r";
		else if (c == '\t') rep = "\\t";
		else if (c == '\b') rep = "\\b";
		else if (c == '\f') rep = "\\f";
		else if (c < 0x20) { u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0'; u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = 0; rep = u; }
		else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 && ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			rep = (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
			skip = 3;
		}
		if (rep == NULL) { i++; continue; }
		ron_buf_bytes(b, s + start, i - start);
		ron_buf_cstr(b, rep);
		i += skip;
		start = i;
	}
	ron_buf_bytes(b, s + start, n - start);
	ron_buf_bytes(b, "\"", 1);
}

static inline void ron_buf_str(ron_buf *b, const char *s) { ron_buf_string(b, s, strlen(s)); }

static inline void ron_buf_u64(ron_buf *b, uint64_t v) {
	char d[24];
	int n = snprintf(d, sizeof d, "%llu", (unsigned long long)v);
	ron_buf_bytes(b, d, (size_t)n);
}

static inline int ron_member_cmp_(const void *x, const void *y) {
	const ron_json *a = *(const ron_json *const *)x, *b = *(const ron_json *const *)y;
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, n);
	return c != 0 ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* Appends v canonically: compact, object keys sorted by their bytes. In the
 * outermost object, the member named skip (if any) is left out and the
 * member extra (if any) is added. */
static inline void ron_buf_json_with_(ron_buf *b, const ron_json *v, const char *skip, const ron_json *extra) {
	switch (v->type) {
	case RON_JSON_NULL: ron_buf_cstr(b, "null"); return;
	case RON_JSON_FALSE: ron_buf_cstr(b, "false"); return;
	case RON_JSON_TRUE: ron_buf_cstr(b, "true"); return;
	case RON_JSON_NUMBER: ron_buf_bytes(b, v->s, v->len); return;
	case RON_JSON_STRING: ron_buf_string(b, v->s, v->len); return;
	case RON_JSON_ARRAY:
		ron_buf_bytes(b, "[", 1);
		for (const ron_json *e = v->first; e != NULL; e = e->next) {
			if (e != v->first) ron_buf_bytes(b, ",", 1);
			ron_buf_json_with_(b, e, NULL, NULL);
		}
		ron_buf_bytes(b, "]", 1);
		return;
	case RON_JSON_OBJECT: {
		const ron_json **ms = (const ron_json **)ron_alloc((v->n + 1) * sizeof *ms);
		if (ms == NULL) { b->failed = 1; return; }
		size_t k = 0;
		size_t skiplen = skip ? strlen(skip) : 0;
		for (const ron_json *e = v->first; e != NULL; e = e->next)
			if (skip == NULL || e->key_len != skiplen || memcmp(e->key, skip, skiplen) != 0) ms[k++] = e;
		if (extra != NULL) ms[k++] = extra;
		qsort(ms, k, sizeof *ms, ron_member_cmp_);
		ron_buf_bytes(b, "{", 1);
		for (size_t i = 0; i < k; i++) {
			if (i > 0) ron_buf_bytes(b, ",", 1);
			ron_buf_string(b, ms[i]->key, ms[i]->key_len);
			ron_buf_bytes(b, ":", 1);
			ron_buf_json_with_(b, ms[i], NULL, NULL);
		}
		ron_buf_bytes(b, "}", 1);
		return;
	}
	}
}

/* Appends v canonically: compact, object keys sorted by their bytes. skip
 * (may be NULL) names a member of the outermost object to leave out. */
static inline void ron_buf_json_skip(ron_buf *b, const ron_json *v, const char *skip) { ron_buf_json_with_(b, v, skip, NULL); }

static inline void ron_buf_json(ron_buf *b, const ron_json *v) { ron_buf_json_skip(b, v, NULL); }

/* ---- dates and times (ABI v1.1, the feature "dates") ----
 *
 * With `#define RON_PLUGIN_DATES` before the include, describe lists the
 * feature "dates", and the host sends TOML dates and times (and strings
 * with exactly the host's text of one: in a manifest's content the two are
 * one value) as tagged objects: {"$datetime":"1979-05-27T07:32:00Z"},
 * {"$datetime_local":"1979-05-27T07:32:00"}, {"$date":"1979-05-27"},
 * {"$time":"07:32:00"}; [meta] created and updated as $datetime; and a
 * user's key that begins with "$" with one more "$" ("$$x" is the user's
 * "$x"). Only the host makes tags, and the text in one is always a valid
 * value of its kind. Read a key that holds a date with ron_json_date, one
 * where a user writes free text (which may look like a date) with
 * ron_json_text. Write values back as they came (ron_buf_json does; so does
 * ron_buf_date): the host refuses a tag that does not hold its kind's exact
 * text. The same rules as the Go SDK's Date and Text and the Rust SDK's. */

typedef enum {
	RON_DATE_NONE,      /* not a tagged date or time */
	RON_DATETIME,       /* "$datetime": an offset date-time, RFC 3339 (Z for UTC) */
	RON_DATETIME_LOCAL, /* "$datetime_local": 1979-05-27T07:32:00[.frac] */
	RON_LOCAL_DATE,     /* "$date": 1979-05-27 */
	RON_LOCAL_TIME      /* "$time": 07:32:00[.frac] */
} ron_date_kind;

typedef struct {
	ron_date_kind kind;
	const char *text; /* exactly as the host sent it, NUL-terminated */
	size_t len;
} ron_date;

/* The kind's tag, e.g. "$date" (NULL for RON_DATE_NONE). */
static inline const char *ron_date_tag(ron_date_kind k) {
	switch (k) {
	case RON_DATETIME: return "$datetime";
	case RON_DATETIME_LOCAL: return "$datetime_local";
	case RON_LOCAL_DATE: return "$date";
	case RON_LOCAL_TIME: return "$time";
	default: return NULL;
	}
}

/* Reads v as a tagged date or time: an object with exactly one member,
 * named by one of the four tags, holding a string. 1 and *d set when it is
 * one; 0 otherwise (a plain string is a user's text, not a date). */
static inline int ron_json_date(const ron_json *v, ron_date *d) {
	if (v == NULL || v->type != RON_JSON_OBJECT || v->n != 1 || v->first->type != RON_JSON_STRING) return 0;
	for (ron_date_kind k = RON_DATETIME; k <= RON_LOCAL_TIME; k++) {
		const char *tag = ron_date_tag(k);
		if (v->first->key_len == strlen(tag) && memcmp(v->first->key, tag, v->first->key_len) == 0) {
			d->kind = k;
			d->text = v->first->s;
			d->len = v->first->len;
			return 1;
		}
	}
	return 0;
}

/* The text of v: a string's, or a tagged date's or time's (a user's text
 * that looks like a date arrives tagged); NULL for anything else. */
static inline const char *ron_json_text(const ron_json *v) {
	ron_date d;
	if (ron_json_date(v, &d)) return d.text;
	return ron_json_str(v);
}

/* Reads n digits at s; -1 when one is not a digit. */
static inline int ron_date_num_(const char *s, int n) {
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (!ron_is_digit_(s[i])) return -1;
		x = x * 10 + (s[i] - '0');
	}
	return x;
}

/* The date part of d (kinds with one): 1 and *year, *month, *day set. */
static inline int ron_date_ymd(const ron_date *d, int *year, int *month, int *day) {
	if (d->kind == RON_DATE_NONE || d->kind == RON_LOCAL_TIME || d->len < 10 || d->text[4] != '-' || d->text[7] != '-') return 0;
	int y = ron_date_num_(d->text, 4), m = ron_date_num_(d->text + 5, 2), dd = ron_date_num_(d->text + 8, 2);
	if (y < 0 || m < 0 || dd < 0) return 0;
	*year = y, *month = m, *day = dd;
	return 1;
}

/* The time part of d (kinds with one): 1 and *hour, *minute, *second set. */
static inline int ron_date_hms(const ron_date *d, int *hour, int *minute, int *second) {
	if (d->kind == RON_DATE_NONE || d->kind == RON_LOCAL_DATE) return 0;
	const char *t = d->text;
	size_t n = d->len;
	if (d->kind != RON_LOCAL_TIME) {
		if (n < 11) return 0;
		t += 11, n -= 11;
	}
	if (n < 8 || t[2] != ':' || t[5] != ':') return 0;
	int h = ron_date_num_(t, 2), m = ron_date_num_(t + 3, 2), s = ron_date_num_(t + 6, 2);
	if (h < 0 || m < 0 || s < 0) return 0;
	*hour = h, *minute = m, *second = s;
	return 1;
}

/* Appends d as the host's tagged object, e.g. {"$date":"1979-05-27"}. */
static inline void ron_buf_date(ron_buf *b, const ron_date *d) {
	const char *tag = ron_date_tag(d->kind);
	if (tag == NULL) { b->failed = 1; return; }
	ron_buf_cstr(b, "{");
	ron_buf_str(b, tag);
	ron_buf_cstr(b, ":");
	ron_buf_string(b, d->text, d->len);
	ron_buf_cstr(b, "}");
}

/* The user's name of a key as the host sent it: "$$x" is "$x"; other keys
 * are unchanged. */
static inline const char *ron_user_key(const char *key) {
	return key[0] == '$' && key[1] == '$' ? key + 1 : key;
}

/* Appends a user's key as the host wants it back, a JSON string: "$x" is
 * written "$$x". */
static inline void ron_buf_user_key(ron_buf *b, const char *key) {
	if (key[0] != '$') { ron_buf_str(b, key); return; }
	size_t n = strlen(key);
	char *k = (char *)ron_alloc(n + 2);
	if (k == NULL) { b->failed = 1; return; }
	k[0] = '$';
	memcpy(k + 1, key, n + 1);
	ron_buf_string(b, k, n + 1);
}

/* ---- field errors ---- */

typedef struct {
	const char *path, *code, *message;
} ron_error;

typedef struct {
	ron_error *list;
	size_t n, cap;
} ron_errors;

/* Records a field error: path dotted into the manifest ("blog.tags[2]", ""
 * for the whole input), code a short word ("required", "range", "format",
 * "type", "unknown", "duplicate", "invalid"), message printf-style. */
static inline void ron_error_add(ron_errors *e, const char *path, const char *code, const char *fmt, ...) {
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		ron_error *l = (ron_error *)realloc(e->list, cap * sizeof *l);
		if (l == NULL) return;
		e->list = l;
		e->cap = cap;
	}
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ron_error *x = &e->list[e->n++];
	x->path = ron_strndup(path, strlen(path));
	x->code = ron_strndup(code, strlen(code));
	x->message = ron_strndup(msg, strlen(msg));
	if (x->path == NULL || x->code == NULL || x->message == NULL) e->n--;
}

static inline int ron_error_cmp_(const void *x, const void *y) {
	const ron_error *a = (const ron_error *)x, *b = (const ron_error *)y;
	int c = strcmp(a->path, b->path);
	if (c == 0) c = strcmp(a->code, b->code);
	if (c == 0) c = strcmp(a->message, b->message);
	return c;
}

/* Outputs the errors (sorted) as a rejection; returns RON_STATUS_REJECTED. */
static inline int32_t ron_reject_(ron_errors *e) {
	ron_buf b = {0};
	if (e->n == 0) ron_error_add(e, "", "invalid", "rejected");
	qsort(e->list, e->n, sizeof *e->list, ron_error_cmp_);
	ron_buf_cstr(&b, "{\"errors\":[");
	for (size_t i = 0; i < e->n; i++) {
		if (i > 0) ron_buf_cstr(&b, ",");
		ron_buf_cstr(&b, "{\"path\":");
		ron_buf_str(&b, e->list[i].path);
		ron_buf_cstr(&b, ",\"code\":");
		ron_buf_str(&b, e->list[i].code);
		ron_buf_cstr(&b, ",\"message\":");
		ron_buf_str(&b, e->list[i].message);
		ron_buf_cstr(&b, "}");
	}
	ron_buf_cstr(&b, "]}");
	if (b.failed) ron_output_str("{\"errors\":[{\"path\":\"\",\"code\":\"invalid\",\"message\":\"rejected (too many errors)\"}]}");
	else ron_output_set(b.p, (int32_t)b.len);
	ron_buf_free(&b);
	free(e->list);
	memset(e, 0, sizeof *e);
	return RON_STATUS_REJECTED;
}

/* A fault: the result breaks the ABI. */
static inline int32_t ron_fault_(const char *msg) {
	ron_buf b = {0};
	ron_log_str(RON_LOG_ERROR, msg);
	ron_buf_cstr(&b, "{\"errors\":[{\"path\":\"\",\"code\":\"contract\",\"message\":");
	ron_buf_str(&b, msg);
	ron_buf_cstr(&b, "}]}");
	if (!b.failed) ron_output_set(b.p, (int32_t)b.len);
	ron_buf_free(&b);
	return RON_STATUS_FAULT;
}

/* ---- splits ---- */

typedef struct {
	const char *payee, *role;
	uint64_t amount;
} ron_alloc_t;

typedef struct {
	ron_alloc_t *list;
	size_t n, cap;
} ron_allocs;

/* Pays amount to payee in role (strings must live until the call ends:
 * the manifest's, literals, or ron_strndup's). */
static inline void ron_pay(ron_allocs *a, const char *payee, const char *role, uint64_t amount) {
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		ron_alloc_t *l = (ron_alloc_t *)realloc(a->list, cap * sizeof *l);
		if (l == NULL) return;
		a->list = l;
		a->cap = cap;
	}
	a->list[a->n].payee = payee;
	a->list[a->n].role = role;
	a->list[a->n].amount = amount;
	a->n++;
}

__extension__ typedef unsigned __int128 ron_u128_;

/* floor(amount * bps / 10000), exactly; bps over 10000 is 10000. */
static inline uint64_t ron_portion(uint64_t amount, uint64_t bps) {
	if (bps >= RON_TOTAL_BPS) return amount;
	return (uint64_t)((ron_u128_)amount * bps / RON_TOTAL_BPS);
}

/* A pro rata claim: a share in basis points or a weight (e.g. bytes served). */
typedef struct {
	const char *payee, *role;
	uint64_t weight;
} ron_weight;

typedef struct {
	const char *payee, *role;
	uint64_t weight, amount, rem;
} ron_claim_;

static inline int ron_claim_key_cmp_(const void *x, const void *y) {
	const ron_claim_ *a = (const ron_claim_ *)x, *b = (const ron_claim_ *)y;
	int c = strcmp(a->payee, b->payee);
	return c != 0 ? c : strcmp(a->role, b->role);
}

typedef struct {
	uint64_t rem;
	size_t index;
} ron_rank_;

/* Larger remainders first, then the smaller index. */
static inline int ron_rank_cmp_(const void *x, const void *y) {
	const ron_rank_ *a = (const ron_rank_ *)x, *b = (const ron_rank_ *)y;
	if (a->rem != b->rem) return a->rem > b->rem ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

/* Errors of the split helpers. */
#define RON_SPLIT_OK 0
#define RON_SPLIT_SHARES 1        /* shares do not total exactly 10000, or one is over 10000 */
#define RON_SPLIT_NO_WEIGHT 2     /* the weights total zero */
#define RON_SPLIT_OVERFLOW 3      /* the weights total more than 2^64-1 */
#define RON_SPLIT_EMPTY_PAYEE 4   /* an empty payee or role */
#define RON_SPLIT_NO_MEMORY 5

/* Divides amount pro rata by weight into out, exactly, with the Go and Rust
 * SDKs' remainder rule: weights to the same (payee, role) merge; each claim
 * gets floor(amount * weight / total); the units left go one each to the
 * largest remainders, ties to the smaller payee, then the smaller role. */
static inline int ron_split_weighted(ron_allocs *out, uint64_t amount, const ron_weight *w, size_t n) {
	ron_claim_ *cs = (ron_claim_ *)ron_alloc((n ? n : 1) * sizeof *cs);
	if (cs == NULL) return RON_SPLIT_NO_MEMORY;
	uint64_t total = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (w[i].payee == NULL || w[i].role == NULL || !w[i].payee[0] || !w[i].role[0]) return RON_SPLIT_EMPTY_PAYEE;
		if (total + w[i].weight < total) return RON_SPLIT_OVERFLOW;
		total += w[i].weight;
		cs[k].payee = w[i].payee;
		cs[k].role = w[i].role;
		cs[k].weight = w[i].weight;
		k++;
	}
	if (total == 0) return RON_SPLIT_NO_WEIGHT;
	qsort(cs, k, sizeof *cs, ron_claim_key_cmp_);
	size_t m = 0; /* merge equal keys */
	for (size_t i = 0; i < k; i++) {
		if (m > 0 && ron_claim_key_cmp_(&cs[m - 1], &cs[i]) == 0) cs[m - 1].weight += cs[i].weight;
		else cs[m++] = cs[i];
	}
	uint64_t paid = 0;
	for (size_t i = 0; i < m; i++) {
		ron_u128_ prod = (ron_u128_)amount * cs[i].weight;
		cs[i].amount = (uint64_t)(prod / total);
		cs[i].rem = (uint64_t)(prod % total);
		paid += cs[i].amount;
	}
	/* The units left (fewer than the claims), one each to the largest
	 * remainders; ties keep the key order. */
	uint64_t left = amount - paid;
	if (left > 0) {
		ron_rank_ *order = (ron_rank_ *)ron_alloc(m * sizeof *order);
		if (order == NULL) return RON_SPLIT_NO_MEMORY;
		for (size_t i = 0; i < m; i++) {
			order[i].rem = cs[i].rem;
			order[i].index = i;
		}
		qsort(order, m, sizeof *order, ron_rank_cmp_);
		for (uint64_t i = 0; i < left; i++) cs[order[i].index].amount++;
	}
	for (size_t i = 0; i < m; i++)
		if (cs[i].amount > 0) ron_pay(out, cs[i].payee, cs[i].role, cs[i].amount);
	return RON_SPLIT_OK;
}

/* Divides amount among shares in basis points that total exactly 10000. */
static inline int ron_split_bps(ron_allocs *out, uint64_t amount, const ron_weight *shares, size_t n) {
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (shares[i].weight > RON_TOTAL_BPS) return RON_SPLIT_SHARES;
		total += shares[i].weight;
	}
	if (total != RON_TOTAL_BPS) return RON_SPLIT_SHARES;
	return ron_split_weighted(out, amount, shares, n);
}

/* ---- the plugin's side ---- */

/* What ron_plugin_describe returns. roles and examples end with NULL;
 * examples are manifests in their JSON form that validate accepts. */
typedef struct {
	const char *tld, *name, *version, *summary;
	const char *const *roles;
	const char *const *examples;
} ron_description;

typedef struct {
	const ron_json *manifest; /* the whole manifest */
	const ron_json *meta;     /* [meta]: always an object with a string tld */
	const ron_json *payload;  /* [payload], or NULL */
	const ron_json *table;    /* the plugin's own table (named after its TLD), or NULL */
	const char *tld;          /* the context's TLD */
	uint64_t payload_size;
} ron_validate_in;

typedef struct {
	ron_buf table;      /* write the normalized table here (a JSON object); left empty, the table is kept as it was */
	ron_buf title;      /* the index title (plain text) */
	const char **tags;  /* index tags: add with ron_index_tag */
	size_t ntags, captags;
} ron_validate_out;

/* Adds a tag to the index (the string must live until the call ends). */
static inline void ron_index_tag(ron_validate_out *out, const char *tag) {
	if (out->ntags == out->captags) {
		size_t cap = out->captags ? out->captags * 2 : 8;
		const char **l = (const char **)realloc((void *)out->tags, cap * sizeof *l);
		if (l == NULL) return;
		out->tags = l;
		out->captags = cap;
	}
	out->tags[out->ntags++] = tag;
}

typedef struct {
	const char *node, *payout;
	uint64_t requests, bytes;
} ron_server;

typedef struct {
	const ron_json *manifest, *meta, *table; /* table: the plugin's own, or NULL */
	const char *epoch;
	uint64_t amount, requests, bytes;
	const ron_server *servers; /* sorted by (payout, node, bytes, requests) */
	size_t nservers;
} ron_split_in;

const ron_description *ron_plugin_describe(void);
void ron_plugin_validate(const ron_validate_in *in, ron_validate_out *out, ron_errors *errs);
void ron_plugin_split(const ron_split_in *in, ron_allocs *out, ron_errors *errs);

#ifdef RON_PLUGIN_RESOLVE
typedef struct {
	const ron_json *manifest, *meta, *table;
	const char *path;
	uint64_t payload_size;
} ron_resolve_in;

typedef struct {
	int status;               /* 200 (serve offset, length) or another HTTP status */
	const char *content_type; /* for 200 */
	uint64_t offset, length;
} ron_resolve_out;

void ron_plugin_resolve(const ron_resolve_in *in, ron_resolve_out *out, ron_errors *errs);
#endif

/* ---- the entry points ---- */

RON_ABI_V1

/* Reads and parses the input and its manifest; on failure outputs the
 * rejection and returns NULL. */
static inline const ron_json *ron_begin_(ron_errors *errs, const ron_json **meta, int want_manifest) {
	int32_t n = ron_input_len();
	if (n < 0 || n > RON_MAX_INPUT_BYTES) { ron_error_add(errs, "", "too-large", "input over 1 MiB"); return NULL; }
	char *in = (char *)ron_alloc((size_t)n + RON_PAD_);
	if (in == NULL) { ron_error_add(errs, "", "too-large", "out of memory"); return NULL; }
	if (n > 0) ron_input_read(in);
	memset(in + n, 0, RON_PAD_);
	ron_parser p;
	const ron_json *doc = ron_json_parse_in_place_(&p, in, (size_t)n);
	if (doc == NULL) {
		ron_error_add(errs, "", p.code, "%s", p.msg);
		return NULL;
	}
	if (!want_manifest) return doc;
	const ron_json *m = ron_json_get(doc, "manifest");
	if (m == NULL || m->type == RON_JSON_NULL) { ron_error_add(errs, "manifest", "required", "the input has no manifest"); return NULL; }
	if (m->type != RON_JSON_OBJECT) { ron_error_add(errs, "manifest", "type", "a manifest must be a JSON object"); return NULL; }
	*meta = ron_json_get(m, "meta");
	if (*meta == NULL || (*meta)->type != RON_JSON_OBJECT || ron_json_str(ron_json_get(*meta, "tld")) == NULL) {
		ron_error_add(errs, "meta.tld", "required", "the manifest's [meta] table has no tld");
		return NULL;
	}
	return doc;
}

/* Reads an optional integer member (0..2^53-1; absent or null: 0). */
static inline int ron_u64_member_(const ron_json *obj, const char *key, const char *path, uint64_t *out, ron_errors *errs) {
	const ron_json *v = ron_json_get(obj, key);
	*out = 0;
	if (v == NULL || v->type == RON_JSON_NULL) return 1;
	if (!ron_json_u64(v, out)) {
		ron_error_add(errs, path, v->type == RON_JSON_NUMBER ? "range" : "type", "must be an integer from 0 to 2^53-1");
		return 0;
	}
	return 1;
}

static inline const char *ron_str_member_(const ron_json *obj, const char *key, const char *path, ron_errors *errs) {
	const ron_json *v = ron_json_get(obj, key);
	if (v == NULL || v->type == RON_JSON_NULL) return "";
	if (v->type != RON_JSON_STRING) { ron_error_add(errs, path, "type", "must be a string"); return NULL; }
	return v->s;
}

static inline int32_t ron_end_(int32_t status) {
	ron_arena_free();
	return status;
}

RON_EXPORT(ron_describe) int32_t ron_describe(void) {
	ron_errors errs = {0};
	const ron_json *doc = ron_begin_(&errs, NULL, 0);
	if (doc == NULL) return ron_end_(ron_reject_(&errs));
	uint64_t abi = 0;
	if (!ron_u64_member_(doc, "abi", "abi", &abi, &errs)) return ron_end_(ron_reject_(&errs));
	if (abi != RON_ABI_VERSION) {
		ron_error_add(&errs, "abi", "unsupported", "this plugin implements ABI version %d", RON_ABI_VERSION);
		return ron_end_(ron_reject_(&errs));
	}
	const ron_description *d = ron_plugin_describe();
	ron_buf b = {0};
	ron_buf_cstr(&b, "{\"tld\":");
	ron_buf_str(&b, d->tld);
	ron_buf_cstr(&b, ",\"name\":");
	ron_buf_str(&b, d->name);
	ron_buf_cstr(&b, ",\"version\":");
	ron_buf_str(&b, d->version);
	ron_buf_cstr(&b, ",\"summary\":");
	ron_buf_str(&b, d->summary ? d->summary : "");
	ron_buf_cstr(&b, ",\"roles\":[");
	for (size_t i = 0; d->roles && d->roles[i]; i++) {
		if (i > 0) ron_buf_cstr(&b, ",");
		ron_buf_str(&b, d->roles[i]);
	}
	ron_buf_cstr(&b, "],\"features\":[");
	int nfeatures = 0;
#ifdef RON_PLUGIN_RESOLVE
	ron_buf_cstr(&b, nfeatures++ ? ",\"resolve\"" : "\"resolve\"");
#endif
#ifdef RON_PLUGIN_DATES
	ron_buf_cstr(&b, nfeatures++ ? ",\"dates\"" : "\"dates\"");
#endif
	(void)nfeatures;
	ron_buf_cstr(&b, "],\"examples\":[");
	for (size_t i = 0; d->examples && d->examples[i]; i++) {
		ron_parser p;
		const ron_json *ex = ron_json_parse(&p, d->examples[i], strlen(d->examples[i]));
		if (ex == NULL) {
			char msg[256];
			snprintf(msg, sizeof msg, "describe: examples[%lu] is not a JSON object: %s", (unsigned long)i, p.msg);
			ron_buf_free(&b);
			return ron_end_(ron_fault_(msg));
		}
		if (i > 0) ron_buf_cstr(&b, ",");
		ron_buf_json(&b, ex);
	}
	ron_buf_cstr(&b, "]}");
	int32_t st = RON_STATUS_OK;
	if (b.failed) st = ron_fault_("describe: the description is too large");
	else ron_output_set(b.p, (int32_t)b.len);
	ron_buf_free(&b);
	return ron_end_(st);
}

RON_EXPORT(ron_validate) int32_t ron_validate(void) {
	ron_errors errs = {0};
	const ron_json *meta = NULL;
	const ron_json *doc = ron_begin_(&errs, &meta, 1);
	if (doc == NULL) return ron_end_(ron_reject_(&errs));
	const ron_json *m = ron_json_get(doc, "manifest");
	const ron_json *ctx = ron_json_get(doc, "context");
	ron_validate_in in = {m, meta, ron_json_get(m, "payload"), NULL, "", 0};
	if (in.payload != NULL && in.payload->type != RON_JSON_OBJECT) in.payload = NULL;
	if (ctx != NULL && ctx->type != RON_JSON_NULL) {
		if (ctx->type != RON_JSON_OBJECT) {
			ron_error_add(&errs, "context", "type", "the context must be an object");
			return ron_end_(ron_reject_(&errs));
		}
		in.tld = ron_str_member_(ctx, "tld", "context.tld", &errs);
		if (in.tld == NULL || !ron_u64_member_(ctx, "payload_size", "context.payload_size", &in.payload_size, &errs))
			return ron_end_(ron_reject_(&errs));
	}
	const char *tld = ron_plugin_describe()->tld;
	in.table = ron_json_get(m, tld);
	ron_validate_out out;
	memset(&out, 0, sizeof out);
	ron_plugin_validate(&in, &out, &errs);
	int32_t st;
	if (errs.n > 0) {
		st = ron_reject_(&errs);
	} else {
		/* The manifest with the plugin's table replaced, canonical: the
		 * table the rule wrote is read once, and written at its sorted
		 * place among the manifest's other members. */
		ron_buf b = {0};
		ron_parser p;
		ron_json *table = NULL;
		if (out.table.len > 0) {
			table = ron_json_parse(&p, out.table.p, out.table.len);
			if (table != NULL) {
				table->key = tld;
				table->key_len = strlen(tld);
			}
		}
		if (out.table.len > 0 && table == NULL) {
			st = ron_fault_("validate: the normalized table is not a JSON object");
		} else {
			ron_buf_cstr(&b, "{\"manifest\":");
			ron_buf_json_with_(&b, m, table != NULL ? tld : NULL, table);
			ron_buf_cstr(&b, ",\"index\":{\"title\":");
			ron_buf_string(&b, out.title.p ? out.title.p : "", out.title.len);
			ron_buf_cstr(&b, ",\"tags\":[");
			for (size_t i = 0; i < out.ntags; i++) {
				if (i > 0) ron_buf_cstr(&b, ",");
				ron_buf_str(&b, out.tags[i]);
			}
			ron_buf_cstr(&b, "]}}");
			if (b.failed) {
				/* Huge input, not a broken rule: a rejection, never a fault. */
				ron_error_add(&errs, "", "too-large", "the normalized manifest and its index are over 1 MiB");
				st = ron_reject_(&errs);
			} else {
				ron_output_set(b.p, (int32_t)b.len);
				st = RON_STATUS_OK;
			}
		}
		ron_buf_free(&b);
	}
	ron_buf_free(&out.table);
	ron_buf_free(&out.title);
	free((void *)out.tags);
	free(errs.list);
	return ron_end_(st);
}

static inline int ron_server_cmp_(const void *x, const void *y) {
	const ron_server *a = (const ron_server *)x, *b = (const ron_server *)y;
	int c = strcmp(a->payout, b->payout);
	if (c == 0) c = strcmp(a->node, b->node);
	if (c == 0) c = (a->bytes > b->bytes) - (a->bytes < b->bytes);
	if (c == 0) c = (a->requests > b->requests) - (a->requests < b->requests);
	return c;
}

static inline int ron_alloc_cmp_(const void *x, const void *y) {
	const ron_alloc_t *a = (const ron_alloc_t *)x, *b = (const ron_alloc_t *)y;
	int c = strcmp(a->payee, b->payee);
	return c != 0 ? c : strcmp(a->role, b->role);
}

RON_EXPORT(ron_split) int32_t ron_split(void) {
	ron_errors errs = {0};
	const ron_json *meta = NULL;
	const ron_json *doc = ron_begin_(&errs, &meta, 1);
	if (doc == NULL) return ron_end_(ron_reject_(&errs));
	const ron_json *m = ron_json_get(doc, "manifest");
	ron_split_in in;
	memset(&in, 0, sizeof in);
	in.manifest = m;
	in.meta = meta;
	in.table = ron_json_get(m, ron_plugin_describe()->tld);
	in.epoch = ron_str_member_(doc, "epoch", "epoch", &errs);
	const ron_json *usage = ron_json_get(doc, "usage");
	if (in.epoch == NULL || !ron_u64_member_(doc, "amount", "amount", &in.amount, &errs))
		return ron_end_(ron_reject_(&errs));
	if (usage != NULL && usage->type != RON_JSON_NULL) {
		if (usage->type != RON_JSON_OBJECT) {
			ron_error_add(&errs, "usage", "type", "usage must be an object");
			return ron_end_(ron_reject_(&errs));
		}
		if (!ron_u64_member_(usage, "requests", "usage.requests", &in.requests, &errs) ||
		    !ron_u64_member_(usage, "bytes", "usage.bytes", &in.bytes, &errs))
			return ron_end_(ron_reject_(&errs));
		const ron_json *ss = ron_json_get(usage, "servers");
		if (ss != NULL && ss->type != RON_JSON_NULL) {
			if (ss->type != RON_JSON_ARRAY) {
				ron_error_add(&errs, "usage.servers", "type", "servers must be an array");
				return ron_end_(ron_reject_(&errs));
			}
			ron_server *list = (ron_server *)ron_alloc((ss->n ? ss->n : 1) * sizeof *list);
			if (list == NULL) { ron_error_add(&errs, "", "too-large", "out of memory"); return ron_end_(ron_reject_(&errs)); }
			size_t i = 0;
			for (const ron_json *s = ss->first; s != NULL; s = s->next, i++) {
				char path[64];
				snprintf(path, sizeof path, "usage.servers[%lu]", (unsigned long)i);
				if (s->type != RON_JSON_OBJECT) { ron_error_add(&errs, path, "type", "a server must be an object"); return ron_end_(ron_reject_(&errs)); }
				list[i].node = ron_str_member_(s, "node", path, &errs);
				list[i].payout = ron_str_member_(s, "payout", path, &errs);
				if (list[i].node == NULL || list[i].payout == NULL ||
				    !ron_u64_member_(s, "requests", path, &list[i].requests, &errs) ||
				    !ron_u64_member_(s, "bytes", path, &list[i].bytes, &errs))
					return ron_end_(ron_reject_(&errs));
			}
			qsort(list, i, sizeof *list, ron_server_cmp_);
			in.servers = list;
			in.nservers = i;
		}
	}
	ron_allocs out = {0};
	ron_plugin_split(&in, &out, &errs);
	int32_t st;
	if (errs.n > 0) {
		st = ron_reject_(&errs);
	} else {
		uint64_t sum = 0;
		int bad = 0;
		for (size_t i = 0; i < out.n; i++) {
			if (!out.list[i].payee || !out.list[i].payee[0] || !out.list[i].role || !out.list[i].role[0]) bad = 1;
			else if (sum + out.list[i].amount < sum) bad = 2;
			else sum += out.list[i].amount;
		}
		if (bad == 1) st = ron_fault_("split: an allocation has an empty payee or role");
		else if (bad == 2 || sum != in.amount) st = ron_fault_("split: the allocations do not sum to the amount");
		else {
			/* Merged by (payee, role), sorted, zero amounts dropped. */
			qsort(out.list, out.n, sizeof *out.list, ron_alloc_cmp_);
			ron_buf b = {0};
			ron_buf_cstr(&b, "{\"allocations\":[");
			int first = 1;
			for (size_t i = 0; i < out.n;) {
				size_t j = i;
				uint64_t amount = 0;
				while (j < out.n && ron_alloc_cmp_(&out.list[i], &out.list[j]) == 0) amount += out.list[j++].amount;
				if (amount > 0) {
					if (!first) ron_buf_cstr(&b, ",");
					first = 0;
					ron_buf_cstr(&b, "{\"payee\":");
					ron_buf_str(&b, out.list[i].payee);
					ron_buf_cstr(&b, ",\"role\":");
					ron_buf_str(&b, out.list[i].role);
					ron_buf_cstr(&b, ",\"amount\":");
					ron_buf_u64(&b, amount);
					ron_buf_cstr(&b, "}");
				}
				i = j;
			}
			ron_buf_cstr(&b, "]}");
			if (b.failed) {
				ron_error_add(&errs, "", "too-large", "the allocations are over 1 MiB");
				st = ron_reject_(&errs);
			} else {
				ron_output_set(b.p, (int32_t)b.len);
				st = RON_STATUS_OK;
			}
			ron_buf_free(&b);
		}
	}
	free(out.list);
	free(errs.list);
	return ron_end_(st);
}

#ifdef RON_PLUGIN_RESOLVE
RON_EXPORT(ron_resolve) int32_t ron_resolve(void) {
	ron_errors errs = {0};
	const ron_json *meta = NULL;
	const ron_json *doc = ron_begin_(&errs, &meta, 1);
	if (doc == NULL) return ron_end_(ron_reject_(&errs));
	const ron_json *m = ron_json_get(doc, "manifest");
	ron_resolve_in in = {m, meta, ron_json_get(m, ron_plugin_describe()->tld), NULL, 0};
	in.path = ron_str_member_(doc, "path", "path", &errs);
	if (in.path == NULL || !ron_u64_member_(doc, "payload_size", "payload_size", &in.payload_size, &errs))
		return ron_end_(ron_reject_(&errs));
	ron_resolve_out out = {404, NULL, 0, 0};
	ron_plugin_resolve(&in, &out, &errs);
	int32_t st;
	if (errs.n > 0) {
		st = ron_reject_(&errs);
	} else if (out.status < 100 || out.status > 599) {
		st = ron_fault_("resolve: the status is not an HTTP status");
	} else if (out.status == 200 && (out.offset > in.payload_size || out.length > in.payload_size - out.offset)) {
		st = ron_fault_("resolve: the range is outside the payload");
	} else {
		ron_buf b = {0};
		ron_buf_cstr(&b, "{\"status\":");
		ron_buf_u64(&b, (uint64_t)out.status);
		if (out.status == 200) {
			if (out.content_type != NULL && out.content_type[0]) {
				ron_buf_cstr(&b, ",\"content_type\":");
				ron_buf_str(&b, out.content_type);
			}
			ron_buf_cstr(&b, ",\"offset\":");
			ron_buf_u64(&b, out.offset);
			ron_buf_cstr(&b, ",\"length\":");
			ron_buf_u64(&b, out.length);
		}
		ron_buf_cstr(&b, "}");
		ron_output_set(b.p, (int32_t)b.len);
		ron_buf_free(&b);
		st = RON_STATUS_OK;
	}
	free(errs.list);
	return ron_end_(st);
}
#endif

#endif /* RON_SDK_H */
