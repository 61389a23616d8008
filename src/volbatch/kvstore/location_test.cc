#include "volbatch/kvstore/location.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

TEST(Location, UrlsAndSchemes) {
  EXPECT_TRUE(IsUrl("s3://bucket/raw.n5"));
  EXPECT_TRUE(IsUrl("HTTPS://host/a"));
  EXPECT_TRUE(IsUrl("git+ssh://x"));
  EXPECT_FALSE(IsUrl("/data/raw.n5"));
  EXPECT_FALSE(IsUrl("raw.n5"));
  EXPECT_FALSE(IsUrl("://x"));
  EXPECT_FALSE(IsUrl("3s://x"));
  EXPECT_FALSE(IsUrl("data/s3://x"));
  EXPECT_EQ(UrlScheme("HTTPS://host/a"), "https");
  EXPECT_EQ(UrlScheme("/data"), "");
}

TEST(Location, JoinAndSplit) {
  EXPECT_EQ(JoinLocation("s3://b/raw.n5/", "s0"), "s3://b/raw.n5/s0");
  EXPECT_EQ(JoinLocation("s3://b", "raw.n5"), "s3://b/raw.n5");
  EXPECT_EQ(JoinLocation("/data", "raw.n5"), "/data/raw.n5");
  EXPECT_EQ(JoinLocation("/data", ""), "/data");
  EXPECT_EQ(SplitLocation("s3://b/a/raw.n5"),
            (std::pair<std::string, std::string>{"s3://b/a", "raw.n5"}));
  EXPECT_EQ(SplitLocation("s3://b/raw.n5/"),
            (std::pair<std::string, std::string>{"s3://b", "raw.n5"}));
  EXPECT_EQ(SplitLocation("s3://b"), (std::pair<std::string, std::string>{"s3://b", ""}));
  EXPECT_EQ(SplitLocation("/data/raw.n5"),
            (std::pair<std::string, std::string>{"/data", "raw.n5"}));
  EXPECT_EQ(SplitLocation("raw.n5"), (std::pair<std::string, std::string>{".", "raw.n5"}));
  EXPECT_EQ(SplitLocation("/raw.n5"), (std::pair<std::string, std::string>{"/", "raw.n5"}));
}

TEST(Location, PathsAndFileUrlsAreFileStores) {
  const fs::path dir = fs::temp_directory_path() / ("vb-location-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string value = "abc";
  OpenKvStore(dir.string())
      ->Set("k", ByteView(reinterpret_cast<const std::byte*>(value.data()), value.size()));
  const auto got = OpenKvStore("file://" + dir.string())->Get("k");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 3u);
  EXPECT_THROW(OpenKvStore("file://relative/x"), Error);
  fs::remove_all(dir);
}

TEST(Location, ARegisteredSchemeOpensItsStoreAndAnUnknownOneIsNamed) {
  RegisterKvStoreScheme("memtest", [](const std::string& url) {
    if (url == "memtest://bad") throw InvalidArgument(url + ": malformed");
    return OpenKvStore(fs::temp_directory_path().string());
  });
  EXPECT_TRUE(OpenKvStore("memtest://ok"));
  try {
    OpenKvStore("memtest://bad");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "memtest://bad: malformed");
  }
  try {
    OpenKvStore("nosuch://bucket/x");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("nosuch://bucket/x: unknown scheme \"nosuch\" (known: file, "),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("memtest"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace volbatch
