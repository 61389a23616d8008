// Datasets at URLs: every format goes through OpenKvStore, so an array at "scheme://..." is
// created, found, read and written exactly as on a path. A test scheme maps URLs onto a local
// directory; the S3 and HTTP backends themselves are tested in remote_test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/node_attributes.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

const fs::path& Root() {
  static const fs::path root =
      fs::path(VOLBATCH_BINARY_DIR) / "test_tmp" / "dataset_url_test" / std::to_string(::getpid());
  return root;
}

// "urltest://bucket/key..." is the directory Root()/bucket/key...
void RegisterTestScheme() {
  static const bool registered = [] {
    RegisterKvStoreScheme("urltest", [](const std::string& url) {
      return OpenKvStore((Root() / url.substr(std::string("urltest://").size())).string());
    });
    return true;
  }();
  (void)registered;
}

class DatasetUrl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    RegisterTestScheme();
    fs::remove_all(Root());
  }
  void TearDown() override { fs::remove_all(Root()); }
};

TEST_P(DatasetUrl, CreateWriteOpenReadInAContainer) {
  const std::string format = GetParam();
  const std::string container =
      "urltest://bucket/data/raw." + std::string(format == "n5" ? "n5" : "zarr");
  const std::string url = container + "/s0";
  CreateOptions o;
  o.format = format;
  o.shape = {20, 30, 40};
  o.chunks = {8, 16, 16};
  o.dtype = DataType::kUint16;
  o.codecs = ParseCodecSpec("zstd:1");
  Array a(DataType::kUint16, o.shape);
  std::mt19937 rng(7);
  for (auto& b : a.bytes()) b = static_cast<std::byte>(rng() & 0xff);
  {
    Dataset d = Dataset::Create(url, o);
    d.Write(Box::FromShape(o.shape), a);
    d.Sync();
  }
  EXPECT_TRUE(Dataset::Exists(url));
  EXPECT_FALSE(Dataset::Exists("urltest://bucket/data/nothing"));
  const Dataset d = Dataset::Open(url);
  EXPECT_EQ(d.format(), format);
  EXPECT_EQ(d.shape(), o.shape);
  const Array back = d.Read(Box::FromShape(o.shape));
  EXPECT_TRUE(std::ranges::equal(back.bytes(), a.bytes()));
  // The container root got its group metadata, where a path would have.
  const fs::path root_dir = Root() / "bucket" / "data" / fs::path(container).filename();
  EXPECT_TRUE(fs::exists(root_dir / (format == "n5"      ? "attributes.json"
                                     : format == "zarr2" ? ".zgroup"
                                                         : "zarr.json")));
  UpdateNodeAttributes(url, {{"note", "at a URL"}});
  EXPECT_EQ(ReadNodeAttributes(url).value("note", ""), "at a URL");
  // Creating over it needs overwrite, as on a path.
  try {
    Dataset::Create(url, o);
    FAIL() << "overwrote without --overwrite";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), url + ": dataset exists (pass --overwrite to replace it)");
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, DatasetUrl, ::testing::Values("n5", "zarr2", "zarr3"));

TEST(DatasetUrlErrors, KeysThatAreNotAnArrayAreNotOverwrittenAndUnknownSchemesAreNamed) {
  RegisterTestScheme();
  fs::remove_all(Root());
  fs::create_directories(Root() / "bucket" / "notes");
  std::ofstream(Root() / "bucket" / "notes" / "readme.txt") << "mine";
  CreateOptions o;
  o.format = "zarr3";
  o.shape = {4, 4};
  o.chunks = {2, 2};
  o.dtype = DataType::kUint8;
  try {
    Dataset::Create("urltest://bucket/notes", o);
    FAIL() << "wrote into keys that are not an array";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "urltest://bucket/notes: holds keys and is not an array; refusing to write into it");
  }
  EXPECT_TRUE(fs::exists(Root() / "bucket" / "notes" / "readme.txt"));
  try {
    Dataset::Open("nosuchscheme://bucket/raw.zarr");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nosuchscheme://bucket/raw.zarr: unknown scheme"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(Root());
}

// A store whose calls wait on the network reports Concurrency() > 1; a read then keeps that
// many units in flight (on its own threads), whatever libtbb's thread count.
class SlowRemoteStore final : public KvStore {
 public:
  explicit SlowRemoteStore(std::shared_ptr<KvStore> base) : base_(std::move(base)) {}
  int Concurrency() const override { return kWidth; }
  std::optional<Bytes> Get(std::string_view key) const override {
    {
      std::unique_lock lock(mu_);
      most_ = std::max(most_, ++in_flight_);
      cv_.notify_all();
      // As a request would: waits until kWidth are in flight, or a deadline, so the width is
      // reached however the threads are scheduled.
      cv_.wait_for(lock, std::chrono::seconds(2), [&] { return most_ >= kWidth; });
      --in_flight_;
    }
    return base_->Get(key);
  }
  std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const override {
    return base_->GetRange(key, range);
  }
  void Set(std::string_view key, ByteView value) override { base_->Set(key, value); }
  void Erase(std::string_view key) override { base_->Erase(key); }
  std::vector<std::string> List(std::string_view prefix) const override {
    return base_->List(prefix);
  }
  std::string Describe(std::string_view key) const override { return base_->Describe(key); }
  std::shared_ptr<KvStore> Sub(std::string_view prefix) const override {
    return base_->Sub(prefix);
  }
  int most() const { return most_; }
  static constexpr int kWidth = 8;

 private:
  std::shared_ptr<KvStore> base_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int in_flight_ = 0, most_ = 0;
};

TEST(DatasetUrlConcurrency, AReadKeepsTheStoresConcurrencyOfUnitsInFlight) {
  fs::remove_all(Root());
  const std::string path = (Root() / "c.zarr" / "a").string();
  CreateOptions o;
  o.format = "zarr3";
  o.shape = {64, 64};
  o.chunks = {8, 8};  // 64 units
  o.dtype = DataType::kUint8;
  Array a(DataType::kUint8, o.shape);
  for (size_t i = 0; i < a.bytes().size(); ++i) a.bytes()[i] = static_cast<std::byte>(i % 251);
  Dataset::Create(path, o).Write(Box::FromShape(o.shape), a);
  static std::shared_ptr<SlowRemoteStore> last;
  RegisterKvStoreScheme("slowtest", [](const std::string& url) {
    last = std::make_shared<SlowRemoteStore>(
        OpenKvStore((Root() / url.substr(std::string("slowtest://").size())).string()));
    return last;
  });
  const Dataset d = Dataset::Open("slowtest://c.zarr/a");
  const Array back = d.Read(Box::FromShape(o.shape));
  EXPECT_TRUE(std::ranges::equal(back.bytes(), a.bytes()));
  EXPECT_EQ(last->most(), SlowRemoteStore::kWidth);
  fs::remove_all(Root());
}

}  // namespace
}  // namespace volbatch
