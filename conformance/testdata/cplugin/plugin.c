/*
 * A ronhost TLD plugin in C, written from the ABI v1 document alone
 * (docs/ABI.md): the TLD .c-demo. Its manifest has a fixed shape,
 *
 *   {"meta":{"tld":"c-demo","title":"..."},"creator":"..."}
 *
 * validate trims the title and checks every member; split pays the
 * creator everything. It needs no libc beyond memcpy and memcmp.
 *
 * Build (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32):
 *   clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 \
 *         -o c-demo.wasm plugin.c
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RON_IMPORT(name) __attribute__((import_module("ron"), import_name(name)))
#define RON_EXPORT(name) __attribute__((export_name(name)))

RON_IMPORT("input_len") int32_t ron_input_len(void);
RON_IMPORT("input_read") void ron_input_read(uint8_t *dst);
RON_IMPORT("output_set") void ron_output_set(const uint8_t *ptr, int32_t len);

/* The ABI marker: its presence declares ABI version 1. */
RON_EXPORT("ron_abi_v1") void ron_abi_v1(void) {}

enum {
	MAX_INPUT = 64 * 1024, /* a manifest is small: larger input is rejected unread */
	MAX_TOKENS = 4096,
	MAX_DEPTH = 32,
	MAX_TEXT = 256, /* title and creator, in bytes */
	OUT_CAP = 16 * 1024,
};
#define MAX_MONEY 9007199254740991ULL /* 2^53-1 */

/* ---- input ---- */

static uint8_t in[MAX_INPUT];
static size_t in_len;

/* ---- output ---- */

static uint8_t out[OUT_CAP];
static size_t out_len;

static void put_n(const char *s, size_t n) {
	if (out_len + n > OUT_CAP) {
		n = OUT_CAP - out_len; /* cannot happen: every text is bounded */
	}
	memcpy(out + out_len, s, n);
	out_len += n;
}

static void put(const char *s) { put_n(s, strlen(s)); }

static void put_u64(uint64_t v) {
	char buf[24];
	int i = sizeof buf;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_n(buf + i, sizeof buf - i);
}

/* put_str writes s as a JSON string (s is valid UTF-8). */
static void put_str(const uint8_t *s, size_t n) {
	static const char hex[] = "0123456789abcdef";
	put("\"");
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put_n(e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put_n(e, 6);
		} else {
			put_n((const char *)&c, 1);
		}
	}
	put("\"");
}

static int32_t finish(int32_t status) {
	ron_output_set(out, (int32_t)out_len);
	return status;
}

/* reject answers status 1 with one field error. */
static int32_t reject(const char *path, const char *code, const char *message) {
	out_len = 0;
	put("{\"errors\":[{\"path\":");
	put_str((const uint8_t *)path, strlen(path));
	put(",\"code\":");
	put_str((const uint8_t *)code, strlen(code));
	put(",\"message\":");
	put_str((const uint8_t *)message, strlen(message));
	put("}]}");
	return finish(1);
}

/* ---- UTF-8 ---- */

static int utf8_valid(const uint8_t *s, size_t n) {
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (i + len > n) {
			return 0;
		}
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				return 0;
			}
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			return 0;
		}
		i += len;
	}
	return 1;
}

/* ---- JSON: a validating parser into a flat token array ---- */

typedef enum { T_OBJ, T_ARR, T_STR, T_NUM, T_TRUE, T_FALSE, T_NULL } ttype;

typedef struct {
	ttype type;
	uint32_t start, end; /* raw bytes; for a string, inside the quotes */
	uint32_t next;       /* index of the token after this value's subtree */
	uint32_t count;      /* object: members; array: elements */
} tok;

static tok toks[MAX_TOKENS];
static uint32_t ntok;
static size_t pos;

static void skip_ws(void) {
	while (pos < in_len && (in[pos] == ' ' || in[pos] == '\t' || in[pos] == '\n' || in[pos] == '\r')) {
		pos++;
	}
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static int hexval(uint8_t c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int parse_value(int depth);

static int new_tok(ttype t, uint32_t *idx) {
	if (ntok == MAX_TOKENS) {
		return 0;
	}
	*idx = ntok++;
	toks[*idx].type = t;
	toks[*idx].start = (uint32_t)pos;
	toks[*idx].count = 0;
	return 1;
}

static int parse_string(void) {
	uint32_t idx;
	if (!new_tok(T_STR, &idx)) return 0;
	pos++; /* the opening quote */
	toks[idx].start = (uint32_t)pos;
	while (pos < in_len && in[pos] != '"') {
		uint8_t c = in[pos];
		if (c < 0x20) return 0;
		if (c == '\\') {
			if (++pos >= in_len) return 0;
			switch (in[pos]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			case 'u':
				for (int k = 1; k <= 4; k++) {
					if (pos + k >= in_len || hexval(in[pos + k]) < 0) return 0;
				}
				pos += 4;
				break;
			default:
				return 0;
			}
		}
		pos++;
	}
	if (pos >= in_len) return 0;
	toks[idx].end = (uint32_t)pos;
	pos++; /* the closing quote */
	toks[idx].next = ntok;
	return 1;
}

static int parse_number(void) {
	uint32_t idx;
	if (!new_tok(T_NUM, &idx)) return 0;
	if (pos < in_len && in[pos] == '-') pos++;
	if (pos >= in_len || !is_digit(in[pos])) return 0;
	if (in[pos] == '0') {
		pos++;
	} else {
		while (pos < in_len && is_digit(in[pos])) pos++;
	}
	if (pos < in_len && in[pos] == '.') {
		pos++;
		if (pos >= in_len || !is_digit(in[pos])) return 0;
		while (pos < in_len && is_digit(in[pos])) pos++;
	}
	if (pos < in_len && (in[pos] == 'e' || in[pos] == 'E')) {
		pos++;
		if (pos < in_len && (in[pos] == '+' || in[pos] == '-')) pos++;
		if (pos >= in_len || !is_digit(in[pos])) return 0;
		while (pos < in_len && is_digit(in[pos])) pos++;
	}
	toks[idx].end = (uint32_t)pos;
	toks[idx].next = ntok;
	return 1;
}

static int parse_word(const char *w, ttype t) {
	size_t n = strlen(w);
	uint32_t idx;
	if (pos + n > in_len || memcmp(in + pos, w, n) != 0) return 0;
	if (!new_tok(t, &idx)) return 0;
	pos += n;
	toks[idx].end = (uint32_t)pos;
	toks[idx].next = ntok;
	return 1;
}

static int parse_container(int depth, int object) {
	uint32_t idx;
	if (depth >= MAX_DEPTH) return 0;
	if (!new_tok(object ? T_OBJ : T_ARR, &idx)) return 0;
	pos++;
	skip_ws();
	if (pos < in_len && in[pos] == (object ? '}' : ']')) {
		pos++;
	} else {
		for (;;) {
			skip_ws();
			if (object) {
				if (pos >= in_len || in[pos] != '"' || !parse_string()) return 0;
				skip_ws();
				if (pos >= in_len || in[pos] != ':') return 0;
				pos++;
				skip_ws();
			}
			if (!parse_value(depth + 1)) return 0;
			toks[idx].count++;
			skip_ws();
			if (pos < in_len && in[pos] == ',') {
				pos++;
				continue;
			}
			if (pos < in_len && in[pos] == (object ? '}' : ']')) {
				pos++;
				break;
			}
			return 0;
		}
	}
	toks[idx].end = (uint32_t)pos;
	toks[idx].next = ntok;
	return 1;
}

static int parse_value(int depth) {
	skip_ws();
	if (pos >= in_len) return 0;
	switch (in[pos]) {
	case '{': return parse_container(depth, 1);
	case '[': return parse_container(depth, 0);
	case '"': return parse_string();
	case 't': return parse_word("true", T_TRUE);
	case 'f': return parse_word("false", T_FALSE);
	case 'n': return parse_word("null", T_NULL);
	default: return parse_number();
	}
}

/* parse reads the whole input as one JSON value; the root is token 0. */
static int parse(void) {
	ntok = 0;
	pos = 0;
	if (!parse_value(0)) return 0;
	skip_ws();
	return pos == in_len;
}

/* decode_str decodes string token t into dst (at most cap bytes); it
 * returns the length, or -1 if it does not fit or holds a lone surrogate. */
static int decode_str(uint32_t t, uint8_t *dst, size_t cap) {
	size_t n = 0;
	for (uint32_t i = toks[t].start; i < toks[t].end; i++) {
		uint8_t c = in[i];
		uint32_t cp;
		if (c != '\\') {
			if (n == cap) return -1;
			dst[n++] = c;
			continue;
		}
		c = in[++i];
		switch (c) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			cp = 0;
			for (int k = 1; k <= 4; k++) cp = cp << 4 | (uint32_t)hexval(in[i + k]);
			i += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff) return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo = 0;
				if (i + 6 >= toks[t].end || in[i + 1] != '\\' || in[i + 2] != 'u') return -1;
				for (int k = 3; k <= 6; k++) lo = lo << 4 | (uint32_t)hexval(in[i + k]);
				if (lo < 0xdc00 || lo > 0xdfff) return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			break;
		default: cp = c; break;
		}
		uint8_t enc[4];
		size_t len;
		if (cp < 0x80) {
			enc[0] = (uint8_t)cp, len = 1;
		} else if (cp < 0x800) {
			enc[0] = (uint8_t)(0xc0 | cp >> 6), enc[1] = (uint8_t)(0x80 | (cp & 0x3f)), len = 2;
		} else if (cp < 0x10000) {
			enc[0] = (uint8_t)(0xe0 | cp >> 12), enc[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			enc[2] = (uint8_t)(0x80 | (cp & 0x3f)), len = 3;
		} else {
			enc[0] = (uint8_t)(0xf0 | cp >> 18), enc[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
			enc[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)), enc[3] = (uint8_t)(0x80 | (cp & 0x3f)), len = 4;
		}
		if (n + len > cap) return -1;
		memcpy(dst + n, enc, len);
		n += len;
	}
	return (int)n;
}

/* members checks that object token obj has only the named members, each
 * at most once, and stores each value's token (or -1) in vals. It returns
 * the index of the first unknown or repeated member's key, or -1. */
static int members(uint32_t obj, const char *const *names, int32_t *vals, int nnames) {
	for (int k = 0; k < nnames; k++) vals[k] = -1;
	uint32_t t = obj + 1;
	for (uint32_t m = 0; m < toks[obj].count; m++) {
		uint8_t key[32];
		int n = decode_str(t, key, sizeof key);
		int found = -1;
		for (int k = 0; k < nnames && n >= 0; k++) {
			if ((size_t)n == strlen(names[k]) && memcmp(key, names[k], (size_t)n) == 0) found = k;
		}
		if (found < 0 || vals[found] >= 0) return (int)t;
		vals[found] = (int32_t)(t + 1);
		t = toks[t + 1].next;
	}
	return -1;
}

/* uint_of parses an integer token from 0 to 2^53-1. */
static int uint_of(int32_t t, uint64_t *v) {
	if (t < 0 || toks[t].type != T_NUM) return 0;
	uint64_t x = 0;
	uint32_t n = toks[t].end - toks[t].start;
	if (n == 0 || n > 16) return 0;
	for (uint32_t i = toks[t].start; i < toks[t].end; i++) {
		if (!is_digit(in[i])) return 0;
		x = x * 10 + (uint64_t)(in[i] - '0');
	}
	if (x > MAX_MONEY) return 0;
	*v = x;
	return 1;
}

/* text reads a string token into dst, trimmed of ASCII spaces; it returns
 * the length, or -1 if t is not a string of 1 to MAX_TEXT bytes. */
static int text(int32_t t, uint8_t *dst) {
	if (t < 0 || toks[t].type != T_STR) return -1;
	int n = decode_str((uint32_t)t, dst, MAX_TEXT);
	if (n < 0) return -1;
	int a = 0;
	while (a < n && (dst[a] == ' ' || dst[a] == '\t' || dst[a] == '\n' || dst[a] == '\r')) a++;
	while (n > a && (dst[n - 1] == ' ' || dst[n - 1] == '\t' || dst[n - 1] == '\n' || dst[n - 1] == '\r')) n--;
	if (n == a) return -1;
	memmove(dst, dst + a, (size_t)(n - a));
	return n - a;
}

/* ---- the manifest ---- */

static uint8_t title[MAX_TEXT], creator[MAX_TEXT];
static int title_len, creator_len;

static const char *err_path, *err_code, *err_msg;

static int fail(const char *path, const char *code, const char *msg) {
	err_path = path, err_code = code, err_msg = msg;
	return 0;
}

/* manifest checks manifest token m and fills title and creator. */
static int manifest(int32_t m) {
	static const char *const top[] = {"meta", "creator"};
	static const char *const meta_names[] = {"tld", "title"};
	int32_t v[2], mv[2];
	uint8_t tld[16];
	if (m < 0) return fail("manifest", "required", "the manifest is required");
	if (toks[m].type != T_OBJ) return fail("manifest", "type", "the manifest is an object");
	if (members((uint32_t)m, top, v, 2) >= 0) return fail("manifest", "unknown", "the manifest has only meta and creator, once each");
	if (v[0] < 0) return fail("meta", "required", "the [meta] table is required");
	if (toks[v[0]].type != T_OBJ) return fail("meta", "type", "meta is a table");
	if (members((uint32_t)v[0], meta_names, mv, 2) >= 0) return fail("meta", "unknown", "meta has only tld and title, once each");
	if (mv[0] < 0 || toks[mv[0]].type != T_STR) return fail("meta.tld", "required", "meta.tld is the string \"c-demo\"");
	int n = decode_str((uint32_t)mv[0], tld, sizeof tld);
	if (n != 6 || memcmp(tld, "c-demo", 6) != 0) return fail("meta.tld", "mismatch", "meta.tld must be c-demo");
	if ((title_len = text(mv[1], title)) < 0) return fail("meta.title", "range", "meta.title is a string of 1 to 256 bytes");
	if ((creator_len = text(v[1], creator)) < 0) return fail("creator", "range", "creator is a string of 1 to 256 bytes");
	return 1;
}

static void put_manifest(void) {
	put("{\"meta\":{\"tld\":\"c-demo\",\"title\":");
	put_str(title, (size_t)title_len);
	put("},\"creator\":");
	put_str(creator, (size_t)creator_len);
	put("}");
}

/* read_input takes the call's input; it fails (and answers) when the input
 * is too large or not valid UTF-8 JSON. */
static int read_input(int32_t *status) {
	int32_t n = ron_input_len();
	out_len = 0;
	if (n < 0 || n > MAX_INPUT) {
		*status = reject("", "size", "the input is over 64 KiB");
		return 0;
	}
	in_len = (size_t)n;
	ron_input_read(in);
	if (!utf8_valid(in, in_len)) {
		*status = reject("", "utf8", "the input is not valid UTF-8");
		return 0;
	}
	if (!parse()) {
		*status = reject("", "syntax", "the input is not one JSON value within the parser's limits");
		return 0;
	}
	if (toks[0].type != T_OBJ) {
		*status = reject("", "type", "the input is a JSON object");
		return 0;
	}
	return 1;
}

/* ---- entry points ---- */

RON_EXPORT("ron_describe") int32_t ron_describe(void) {
	static const char *const names[] = {"abi", "host"};
	int32_t status, v[2];
	uint64_t abi;
	if (!read_input(&status)) return status;
	if (members(0, names, v, 2) >= 0 || v[1] < 0 || toks[v[1]].type != T_OBJ) {
		return reject("", "type", "the input is {\"abi\":1,\"host\":{...}}");
	}
	if (!uint_of(v[0], &abi) || abi != 1) return reject("abi", "unsupported", "this plugin speaks ABI version 1");
	put("{\"tld\":\"c-demo\",\"name\":\"C demo\",\"version\":\"1.0.0\","
	    "\"summary\":\"a plugin in C, from the ABI document alone\","
	    "\"roles\":[\"creator\"],\"features\":[],"
	    "\"examples\":[{\"meta\":{\"tld\":\"c-demo\",\"title\":\"  Hello from C \"},\"creator\":\"carol\"},"
	    "{\"meta\":{\"tld\":\"c-demo\",\"title\":\"caf\\u00e9 \\ud83e\\udd80\"},\"creator\":\"dave\"}]}");
	return finish(0);
}

RON_EXPORT("ron_validate") int32_t ron_validate(void) {
	static const char *const names[] = {"manifest", "context"};
	static const char *const ctx_names[] = {"tld", "payload_size"};
	int32_t status, v[2], c[2];
	uint64_t size;
	if (!read_input(&status)) return status;
	if (members(0, names, v, 2) >= 0) return reject("", "unknown", "the input has only manifest and context, once each");
	if (v[1] < 0 || toks[v[1]].type != T_OBJ) return reject("context", "required", "the context is an object");
	if (members((uint32_t)v[1], ctx_names, c, 2) >= 0 || c[0] < 0 || toks[c[0]].type != T_STR || !uint_of(c[1], &size)) {
		return reject("context", "type", "the context is {\"tld\":\"...\",\"payload_size\":N}");
	}
	if (!manifest(v[0])) return reject(err_path, err_code, err_msg);
	put("{\"manifest\":");
	put_manifest();
	put(",\"index\":{\"title\":");
	put_str(title, (size_t)title_len);
	put(",\"tags\":[]}}");
	return finish(0);
}

/* server checks one element of usage.servers. */
static int server(uint32_t t) {
	static const char *const names[] = {"node", "payout", "requests", "bytes"};
	int32_t v[4];
	uint64_t x;
	if (toks[t].type != T_OBJ || members(t, names, v, 4) >= 0) return 0;
	if (v[0] < 0 || toks[v[0]].type != T_STR || v[1] < 0 || toks[v[1]].type != T_STR) return 0;
	return uint_of(v[2], &x) && uint_of(v[3], &x);
}

RON_EXPORT("ron_split") int32_t ron_split(void) {
	static const char *const names[] = {"manifest", "epoch", "amount", "usage"};
	static const char *const usage_names[] = {"requests", "bytes", "servers"};
	int32_t status, v[4], u[3];
	uint64_t amount, x;
	if (!read_input(&status)) return status;
	if (members(0, names, v, 4) >= 0) return reject("", "unknown", "the input has only manifest, epoch, amount and usage, once each");
	if (v[1] < 0 || toks[v[1]].type != T_STR) return reject("epoch", "type", "epoch is a string");
	if (!uint_of(v[2], &amount)) return reject("amount", "range", "amount is an integer from 0 to 2^53-1");
	if (v[3] < 0 || toks[v[3]].type != T_OBJ || members((uint32_t)v[3], usage_names, u, 3) >= 0 ||
	    !uint_of(u[0], &x) || !uint_of(u[1], &x) || (u[2] >= 0 && toks[u[2]].type != T_ARR && toks[u[2]].type != T_NULL)) {
		return reject("usage", "type", "usage is {\"requests\":N,\"bytes\":N,\"servers\":[...]}");
	}
	/* servers may be absent or null: no server served. */
	for (uint32_t t = (uint32_t)u[2] + 1, k = 0; u[2] >= 0 && k < toks[u[2]].count; k++, t = toks[t].next) {
		if (!server(t)) return reject("usage.servers", "type", "a server is {\"node\",\"payout\",\"requests\",\"bytes\"}");
	}
	if (!manifest(v[0])) return reject(err_path, err_code, err_msg);
	/* The creator takes everything, whoever served. */
	put("{\"allocations\":[{\"payee\":");
	put_str(creator, (size_t)creator_len);
	put(",\"role\":\"creator\",\"amount\":");
	put_u64(amount);
	put("}]}");
	return finish(0);
}
