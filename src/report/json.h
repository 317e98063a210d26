/* The JSON reader moved to core (it is not drawing); this name stays for the code that includes it so. */
#ifndef SWAP_REPORT_JSON_H
#define SWAP_REPORT_JSON_H
#include "core/json.h"
#endif
