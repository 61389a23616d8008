// How requests to object stores and web servers behave, from the environment (read when a
// store is opened, so every worker of a job reads its own):
//   AWS_MAX_ATTEMPTS            attempts per request, the first included (as AWS SDKs read it)
//   VOLBATCH_IO_CONCURRENCY     requests in flight per store (default 32)
//   VOLBATCH_IO_TIMEOUT_S       an attempt that moves no byte for this long is abandoned and
//                               retried (default 30)
//   VOLBATCH_CONNECT_TIMEOUT_S  to connect (default 10)
//   VOLBATCH_IO_BUDGET_S        no retry starts after this long (default 60)
#pragma once

#include "volbatch/remote/http_client.h"

namespace volbatch {

// Throws InvalidArgument naming the variable for a value that is not a number in range.
HttpClientOptions HttpOptionsFromEnvironment();

}  // namespace volbatch
