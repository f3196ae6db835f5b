/*
 * ron_plugin.h - the ronhost TLD plugin ABI, version 1, for C (and as a
 * reference for Rust, Zig and other languages that compile to a WebAssembly
 * core module). The contract itself is docs/ABI.md in the ronhost repository.
 *
 * A plugin is a WebAssembly module that
 *   - exports its memory and, if it is a reactor, _initialize (the host calls
 *     it once per instance before anything else);
 *   - exports the marker ron_abi_v1 (put RON_ABI_V1 in one source file);
 *   - exports int32_t ron_describe(void), ron_validate(void), ron_split(void)
 *     and optionally ron_resolve(void), each returning a RON_STATUS_* code;
 *   - imports only the functions below (module "ron") and, if it wants,
 *     wasi_snapshot_preview1.
 *
 * Each entry point reads its JSON input with ron_input_len/ron_input_read
 * into memory it allocates itself, and hands its JSON output to the host
 * with ron_output_set (the host copies it at once; the last call wins).
 * Status 1 (rejected) outputs {"errors":[{"path":..,"code":..,"message":..}]}.
 *
 * Build with clang (Debian: packages clang lld wasi-libc
 * libclang-rt-14-dev-wasm32):
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 \
 *         -o plugin.wasm plugin.c
 *
 * Minimal plugin:
 *
 *   #include "ron_plugin.h"
 *   RON_ABI_V1
 *   int32_t ron_describe(void) {
 *       static const char out[] = "{\"tld\":\"demo\", ... }";
 *       ron_output_set(out, sizeof out - 1);
 *       return RON_STATUS_OK;
 *   }
 *   int32_t ron_validate(void) {
 *       int32_t n = ron_input_len();
 *       char *in = malloc(n > 0 ? n : 1);
 *       ron_input_read(in);
 *       ... parse the JSON, write the result ...
 *       free(in);
 *       return RON_STATUS_OK;
 *   }
 *   int32_t ron_split(void) { ... }
 *
 * Rust: declare the same imports in an `extern "C"` block under
 * #[link(wasm_import_module = "ron")] and the exports as
 * #[no_mangle] pub extern "C" fn ron_describe() -> i32; build a cdylib for
 * wasm32-wasip1. Zig: `extern "ron" fn input_len() i32;` and `export fn`.
 */
#ifndef RON_PLUGIN_H
#define RON_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define RON_ABI_VERSION 1

/* Status codes an entry point returns. Anything but 0 and 1 is a fault: the
 * host discards the instance and the caller gets an error. */
#define RON_STATUS_OK 0       /* the output is the result */
#define RON_STATUS_REJECTED 1 /* the input is not acceptable */
#define RON_STATUS_FAULT 2    /* the plugin failed (any other value works too) */

/* Log levels for ron_log. */
#define RON_LOG_DEBUG 0
#define RON_LOG_INFO 1
#define RON_LOG_WARN 2
#define RON_LOG_ERROR 3

/* Limits (a node may set tighter ones). */
#define RON_MAX_MODULE_BYTES (16 * 1024 * 1024)
#define RON_MAX_MEMORY_BYTES (64 * 1024 * 1024)
#define RON_MAX_INPUT_BYTES (1024 * 1024)
#define RON_MAX_OUTPUT_BYTES (1024 * 1024)
#define RON_DEADLINE_DESCRIBE_MS 1000
#define RON_DEADLINE_VALIDATE_MS 100
#define RON_DEADLINE_SPLIT_MS 50
#define RON_DEADLINE_RESOLVE_MS 50

/* Money is integer minor units, JSON integers from 0 to 2^53-1. */
#define RON_MAX_AMOUNT 9007199254740991ULL
/* Basis points in a whole. */
#define RON_TOTAL_BPS 10000

/* ---- imports (module "ron") ---- */

#define RON_IMPORT(name) __attribute__((import_module("ron"), import_name(name)))

/* Byte length of the current call's input. */
RON_IMPORT("input_len") int32_t ron_input_len(void);
/* Copy the whole input to dst (ron_input_len() bytes, allocated by the plugin). */
RON_IMPORT("input_read") void ron_input_read(void *dst);
/* Hand len bytes at ptr to the host as the result; the host copies them at once. */
RON_IMPORT("output_set") void ron_output_set(const void *ptr, int32_t len);
/* Log a message (level RON_LOG_*); the host rate-limits and truncates. */
RON_IMPORT("log") void ron_log(int32_t level, const char *ptr, int32_t len);
/* Only inside ron_resolve: read up to len bytes of the payload at offset into
 * dst. Returns the bytes read (0 at the end), or -1 on error. */
RON_IMPORT("object_read") int32_t ron_object_read(int64_t offset, void *dst, int32_t len);

/* ---- exports ---- */

#define RON_EXPORT(name) __attribute__((export_name(#name)))

/* Defines the ABI marker export; put it in exactly one source file. */
#define RON_ABI_V1 \
	RON_EXPORT(ron_abi_v1) void ron_abi_v1(void) {}

/* The entry points. Define ron_describe, ron_validate and ron_split;
 * ron_resolve only if describe lists the feature "resolve". */
RON_EXPORT(ron_describe) int32_t ron_describe(void);
RON_EXPORT(ron_validate) int32_t ron_validate(void);
RON_EXPORT(ron_split) int32_t ron_split(void);
RON_EXPORT(ron_resolve) int32_t ron_resolve(void);

/* Convenience: output a NUL-terminated string and log one. */
static inline void ron_output_str(const char *s) {
	int32_t n = 0;
	while (s[n]) n++;
	ron_output_set(s, n);
}
static inline void ron_log_str(int32_t level, const char *s) {
	int32_t n = 0;
	while (s[n]) n++;
	ron_log(level, s, n);
}

#ifdef __cplusplus
}
#endif

#endif /* RON_PLUGIN_H */
