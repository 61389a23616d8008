// The read-only HTTP(S) key-value store: key K of "https://HOST/PATH" is the resource
// https://HOST/PATH/K, as any static file server (nginx, a CDN, a bucket's public website)
// serves a directory of N5 or Zarr data.
#pragma once

#include <memory>
#include <string>

#include "volbatch/kvstore/kvstore.h"
#include "volbatch/remote/http_client.h"

namespace volbatch {

// Throws InvalidArgument naming the URL if it is not http(s)://HOST[/PATH] without a query or
// fragment. Sends nothing.
std::shared_ptr<KvStore> OpenHttpStore(const std::string& url,
                                       const HttpClientOptions& options = {});

}  // namespace volbatch
