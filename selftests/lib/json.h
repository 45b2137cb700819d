/* JSON for tests written with ' for " (readable inside C strings). */
#ifndef XLB_TEST_JSON_H
#define XLB_TEST_JSON_H

#include <cjson/cJSON.h>

#include "decode.h"

/* Parse s with every ' taken as "; NULL when it is not JSON. */
cJSON *parse_quoted(const char *s);

/* A Service or an EndpointSlice decoded from s (as parse_quoted() reads
 * it); NULL when it does not parse or decode. */
struct kube_service *service_from_json(const char *s);
struct kube_slice *slice_from_json(const char *s);

#endif
