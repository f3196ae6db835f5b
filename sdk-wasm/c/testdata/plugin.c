#include <stdlib.h>
#include <string.h>
#include "ron_plugin.h"

RON_ABI_V1

int32_t ron_describe(void) {
	ron_output_str("{\"tld\":\"cdemo\",\"name\":\"C demo\",\"version\":\"0.1.0\",\"summary\":\"\",\"roles\":[\"creator\"],\"features\":[],\"examples\":[{\"meta\":{\"tld\":\"cdemo\"}}]}");
	return RON_STATUS_OK;
}

int32_t ron_validate(void) {
	int32_t n = ron_input_len();
	char *in = malloc(n > 0 ? n : 1);
	ron_input_read(in);
	int ok = n > 0 && in[0] == '{';
	free(in);
	if (!ok) {
		ron_output_str("{\"errors\":[{\"path\":\"\",\"code\":\"syntax\",\"message\":\"not an object\"}]}");
		return RON_STATUS_REJECTED;
	}
	ron_log_str(RON_LOG_INFO, "validated");
	ron_output_str("{\"manifest\":{\"meta\":{\"tld\":\"cdemo\"}},\"index\":{\"title\":\"\",\"tags\":[]}}");
	return RON_STATUS_OK;
}

int32_t ron_split(void) {
	ron_output_str("{\"allocations\":[]}");
	return RON_STATUS_OK;
}
