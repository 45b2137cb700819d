// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer entry: any bytes -> cJSON -> every decoder. Built by `make fuzz`:
 * clang -fsanitize=fuzzer,address -Ibpf -Iuser selftests/fuzz/fuzz_decode.c
 *	user/decode.c user/ipaddr.c -lcjson */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_service *svc;
	struct kube_slice *slice;
	struct kube_node *node;
	struct decode_err err;
	cJSON *j;

	j = cJSON_ParseWithLength((const char *)data, size);
	if (!j)
		return 0;
	decode_service(j, &svc, &err);
	kube_service_free(svc);
	decode_slice(j, &slice, &err);
	kube_slice_free(slice);
	decode_node(j, &node, &err);
	kube_node_free(node);
	cJSON_Delete(j);
	return 0;
}
