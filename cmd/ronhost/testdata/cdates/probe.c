/*
 * A plugin that shows what ron_sdk.h's date helpers read (TestCSDKDates):
 * validate writes its table back through ron_buf_date and
 * ron_buf_user_key, and names each member's reading as an index tag.
 */
#define RON_PLUGIN_DATES
#include "ron_sdk.h"

static const char *const roles[] = {"creator", NULL};
static const char *const examples[] = {"{\"meta\":{\"tld\":\"probe\"},\"probe\":{}}", NULL};
static const ron_description description = {"probe", "probe", "0.1.0", "", roles, examples};

const ron_description *ron_plugin_describe(void) { return &description; }

void ron_plugin_validate(const ron_validate_in *in, ron_validate_out *out, ron_errors *errs) {
	(void)errs;
	ron_buf_cstr(&out->table, "{");
	for (const ron_json *m = in->table ? in->table->first : NULL; m != NULL; m = m->next) {
		const char *key = ron_user_key(m->key);
		if (m != in->table->first) ron_buf_cstr(&out->table, ",");
		ron_buf_user_key(&out->table, key);
		ron_buf_cstr(&out->table, ":");
		char *tag = (char *)ron_alloc(128);
		ron_date d;
		int a, b, c;
		if (ron_json_date(m, &d)) {
			ron_buf_date(&out->table, &d);
			int n = snprintf(tag, 128, "%s %s", key, ron_date_tag(d.kind));
			if (ron_date_ymd(&d, &a, &b, &c)) n += snprintf(tag + n, (size_t)(128 - n), " %d-%d-%d", a, b, c);
			if (ron_date_hms(&d, &a, &b, &c)) snprintf(tag + n, (size_t)(128 - n), " %d:%d:%d", a, b, c);
		} else {
			ron_buf_json(&out->table, m);
			snprintf(tag, 128, "%s text=%s", key, ron_json_text(m) ? ron_json_text(m) : "none");
		}
		ron_index_tag(out, tag);
	}
	ron_buf_cstr(&out->table, "}");
}

void ron_plugin_split(const ron_split_in *in, ron_allocs *out, ron_errors *errs) {
	(void)errs;
	ron_pay(out, "ron1probe", "creator", in->amount);
}
