// The entry point OpenKvStore calls when it loads this plugin (kvstore/location.h).
#include "volbatch/kvstore/location.h"
#include "volbatch/remote/http_store.h"
#include "volbatch/remote/s3_config.h"
#include "volbatch/remote/s3_store.h"

extern "C" __attribute__((visibility("default"))) void volbatch_register_kvstores() {
  using volbatch::RegisterKvStoreScheme;
  // The configuration is read when a store is opened, so a changed environment counts.
  RegisterKvStoreScheme("s3", [](const std::string& url) {
    return volbatch::OpenS3Store(url, volbatch::LoadS3Config());
  });
  RegisterKvStoreScheme("http",
                        [](const std::string& url) { return volbatch::OpenHttpStore(url); });
  RegisterKvStoreScheme("https",
                        [](const std::string& url) { return volbatch::OpenHttpStore(url); });
}
