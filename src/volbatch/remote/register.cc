// The entry point OpenKvStore calls when it loads this plugin (kvstore/location.h).
#include <cstdlib>

#include "volbatch/kvstore/location.h"
#include "volbatch/remote/http_store.h"
#include "volbatch/remote/io_settings.h"
#include "volbatch/remote/s3_config.h"
#include "volbatch/remote/s3_store.h"

extern "C" __attribute__((visibility("default"))) void volbatch_register_kvstores() {
  using volbatch::RegisterKvStoreScheme;
  // The configuration is read when a store is opened, so a changed environment counts.
  RegisterKvStoreScheme("s3", [](const std::string& url) {
    volbatch::S3StoreOptions options;
    options.http = volbatch::HttpOptionsFromEnvironment();
    return volbatch::OpenS3Store(url, volbatch::LoadS3Config(), options);
  });
  // Cloud Storage through its S3-compatible endpoint: HMAC keys in AWS_ACCESS_KEY_ID and
  // AWS_SECRET_ACCESS_KEY, region "auto" unless one is set; AWS_ENDPOINT_URL_S3 or
  // AWS_ENDPOINT_URL still win (a proxy, an emulator). Public buckets read unsigned as on S3.
  RegisterKvStoreScheme("gs", [](const std::string& url) {
    volbatch::S3Config config = volbatch::LoadS3Config();
    if (config.endpoint.empty()) config.endpoint = "https://storage.googleapis.com";
    if (!std::getenv("AWS_REGION") && !std::getenv("AWS_DEFAULT_REGION")) config.region = "auto";
    volbatch::S3StoreOptions options;
    options.http = volbatch::HttpOptionsFromEnvironment();
    return volbatch::OpenS3Store(url, config, options);
  });
  for (const char* scheme : {"http", "https"}) {
    RegisterKvStoreScheme(scheme, [](const std::string& url) {
      return volbatch::OpenHttpStore(url, volbatch::HttpOptionsFromEnvironment());
    });
  }
}
