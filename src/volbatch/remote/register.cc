// The entry point OpenKvStore calls when it loads this plugin (kvstore/location.h).
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
  for (const char* scheme : {"http", "https"}) {
    RegisterKvStoreScheme(scheme, [](const std::string& url) {
      return volbatch::OpenHttpStore(url, volbatch::HttpOptionsFromEnvironment());
    });
  }
}
