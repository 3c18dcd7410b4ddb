/* fuzz_codec_json.c - libFuzzer harness for the JSON event decoder (see fuzz_codec.h). */
#include "fuzz_codec.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_one(data, size, VANE_FORMAT_JSON);
}
