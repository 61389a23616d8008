// The S3 key-value store: "s3://BUCKET/PREFIX", key K is the object PREFIX/K.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "volbatch/kvstore/kvstore.h"
#include "volbatch/remote/http_client.h"
#include "volbatch/remote/s3_config.h"

namespace volbatch {

struct S3StoreOptions {
  // Values of at least this many bytes are uploaded in parts of `part_size` (S3 refuses one
  // PUT above 5 GiB, and a failed part is retried alone instead of the whole value).
  int64_t multipart_threshold = int64_t{64} << 20;
  int64_t part_size = int64_t{16} << 20;  // AWS needs >= 5 MiB for every part but the last
  int part_concurrency = 4;               // parts of one value uploaded at once
  int list_max_keys = 0;                  // keys per ListObjectsV2 page; 0: the server's (1000)
  HttpClientOptions http;
};

// gs://BUCKET[/PREFIX] is the same store on Cloud Storage's S3-compatible XML API (HMAC keys
// as the AWS_* credentials; register.cc points it at storage.googleapis.com).
// Throws InvalidArgument naming the URL if it is not s3://BUCKET[/PREFIX] with a valid bucket
// name and prefix. Sends nothing: a missing bucket or wrong credentials show on first use.
std::shared_ptr<KvStore> OpenS3Store(const std::string& url, const S3Config& config,
                                     const S3StoreOptions& options = {});

}  // namespace volbatch
