#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/conformance.h"
#include "volbatch/kvstore/kvstore.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

fs::path TestBase() {
  return fs::temp_directory_path() / ("volbatch_file_store_test_" + std::to_string(::getpid()));
}

KvStoreBackend FileBackend() {
  return KvStoreBackend{
      "file",
      [] {
        static int n = 0;
        return OpenFileStore((TestBase() / ("store" + std::to_string(n++))).string());
      },
      [] { fs::remove_all(TestBase()); },
  };
}

INSTANTIATE_TEST_SUITE_P(File, KvStoreConformance, ::testing::Values(FileBackend()),
                         KvStoreBackendName);

Bytes B(std::string_view s) {
  Bytes b(s.size());
  for (size_t i = 0; i < s.size(); ++i) b[i] = std::byte(s[i]);
  return b;
}

void WriteFile(const fs::path& p, std::string_view s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestBase() / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    root_ = dir_ / "root";
  }
  void TearDown() override { fs::remove_all(TestBase()); }
  fs::path dir_, root_;
};

template <typename F>
std::string ErrorOf(ErrorCode code, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(ValidateKey, AcceptsRelativeKeys) {
  for (const char* k : {"a", "0/1/2", ".zarray", "a/.zattrs", "a..b", "...", "x/y.z", "c/0.0.0"}) {
    EXPECT_NO_THROW(ValidateKey(k)) << k;
  }
}

TEST(ValidateKey, RefusesEscapes) {
  for (const std::string& k :
       std::vector<std::string>{"", "/a", "..", ".", "a/..", "../a", "a/./b", "a//b", "a/", "a\\b",
                                std::string("a\0", 2)}) {
    std::string msg = ErrorOf(ErrorCode::kInvalidArgument, [&] { ValidateKey(k); });
    EXPECT_NE(msg.find("invalid key"), std::string::npos) << msg;
  }
  // Control characters are escaped in the message so it stays one line.
  EXPECT_NE(ErrorOf(ErrorCode::kInvalidArgument, [] { ValidateKey(std::string("a\0b", 3)); })
                .find("\\x00"),
            std::string::npos);
}

TEST_F(FileStoreTest, KeysAreFilesUnderTheRoot) {
  auto kv = OpenFileStore(root_.string());
  EXPECT_FALSE(fs::exists(root_));  // created on first write only
  EXPECT_TRUE(kv->List("").empty());
  kv->Set("a/b/c", B("xyz"));
  std::ifstream in(root_ / "a/b/c", std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(s, "xyz");
  EXPECT_EQ(kv->Describe("a/b/c"), (root_ / "a/b/c").string());
}

TEST_F(FileStoreTest, RelativeAndTrailingSlashRootsAreNormalized) {
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  auto kv = OpenFileStore("root/");
  fs::current_path(cwd);
  kv->Set("k", B("v"));
  EXPECT_TRUE(fs::exists(root_ / "k"));
  EXPECT_EQ(kv->Describe("k"), (fs::canonical(dir_) / "root" / "k").string());
}

TEST_F(FileStoreTest, NoTemporaryFilesRemainAfterConcurrentSets) {
  auto kv = OpenFileStore(root_.string());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) kv->Set("d/k", Bytes(1000 + t, std::byte(t)));
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(root_)) {
    names.push_back(e.path().lexically_relative(root_).string());
  }
  EXPECT_EQ(names.size(), 2u);  // "d" and "d/k"
  auto v = kv->Get("d/k");
  ASSERT_TRUE(v);
  const size_t t = static_cast<size_t>(v->front());
  EXPECT_EQ(v->size(), 1000 + t);
}

TEST_F(FileStoreTest, ListHidesTemporaryFilesButNotDotKeys) {
  WriteFile(root_ / "a/.k.tmp.1234.0123456789abcdef", "partial");
  WriteFile(root_ / "a/.zarray", "{}");
  WriteFile(root_ / "a/.k.tmp.notours", "x");
  auto kv = OpenFileStore(root_.string());
  EXPECT_EQ(kv->List(""), (std::vector<std::string>{"a/.k.tmp.notours", "a/.zarray"}));
}

TEST_F(FileStoreTest, SymlinkOutOfTheRootIsRefused) {
  const fs::path outside = dir_ / "outside";
  WriteFile(outside / "secret", "s");
  fs::create_directories(root_);
  fs::create_directory_symlink(outside, root_ / "link");
  fs::create_symlink(outside / "secret", root_ / "file_link");
  auto kv = OpenFileStore(root_.string());
  for (const char* key : {"link/secret", "file_link"}) {
    std::string msg = ErrorOf(ErrorCode::kInvalidArgument, [&] { kv->Get(key); });
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_NE(msg.find("outside the store root"), std::string::npos) << msg;
    EXPECT_THROW(kv->GetRange(key, {0, 1}), Error);
    EXPECT_THROW(kv->Erase(key), Error);
  }
  EXPECT_THROW(kv->Set("link/new", B("x")), Error);
  EXPECT_THROW(kv->Set("link/sub/new", B("x")), Error);
  EXPECT_FALSE(fs::exists(outside / "new"));
  EXPECT_FALSE(fs::exists(outside / "sub"));
  EXPECT_THROW(kv->Sub("link"), Error);
  EXPECT_THROW(kv->List("link/"), Error);
  EXPECT_TRUE(fs::exists(outside / "secret"));
  // Links are not followed while listing, so nothing outside shows up.
  EXPECT_EQ(kv->List(""), std::vector<std::string>{});
}

TEST_F(FileStoreTest, SymlinkInsideTheRootIsFine) {
  WriteFile(root_ / "real/k", "v");
  fs::create_directory_symlink(root_ / "real", root_ / "alias");
  auto kv = OpenFileStore(root_.string());
  EXPECT_EQ(kv->Get("alias/k"), B("v"));
  kv->Set("alias/k2", B("w"));
  EXPECT_EQ(kv->Get("real/k2"), B("w"));
}

TEST_F(FileStoreTest, RootBehindASymlinkWorks) {
  fs::create_directories(dir_ / "target");
  fs::create_directory_symlink(dir_ / "target", root_);
  auto kv = OpenFileStore(root_.string());
  kv->Set("x/y", B("1"));
  EXPECT_EQ(kv->Get("x/y"), B("1"));
  EXPECT_TRUE(fs::exists(dir_ / "target/x/y"));
}

TEST_F(FileStoreTest, IoErrorsNameThePathAndTheCause) {
  WriteFile(root_ / "file", "not a directory");
  auto kv = OpenFileStore(root_.string());
  std::string msg = ErrorOf(ErrorCode::kIo, [&] { kv->Set("file/k", B("v")); });
  EXPECT_NE(msg.find((root_ / "file").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("Not a directory"), std::string::npos) << msg;
  // Reading below a file is just an absent key.
  EXPECT_FALSE(kv->Get("file/k").has_value());
  kv->Erase("file/k");
  // A value cannot replace a directory.
  kv->Set("d/k", B("v"));
  msg = ErrorOf(ErrorCode::kIo, [&] { kv->Set("d", B("v")); });
  EXPECT_NE(msg.find((root_ / "d").string()), std::string::npos) << msg;
  EXPECT_EQ(kv->List(""), (std::vector<std::string>{"d/k", "file"}));
}

TEST_F(FileStoreTest, DataLossForRangesNamesThePath) {
  auto kv = OpenFileStore(root_.string());
  kv->Set("0/0/0", B("abcd"));
  std::string msg = ErrorOf(ErrorCode::kDataLoss, [&] { kv->GetRange("0/0/0", {-5, -1}); });
  EXPECT_NE(msg.find((root_ / "0/0/0").string()), std::string::npos) << msg;
}

TEST_F(FileStoreTest, SubStoreIsADirectory) {
  auto kv = OpenFileStore(root_.string());
  auto sub = kv->Sub("raw/s0");
  sub->Set("0/0", B("c"));
  EXPECT_TRUE(fs::exists(root_ / "raw/s0/0/0"));
  EXPECT_EQ(sub->Describe("0/0"), (root_ / "raw/s0/0/0").string());
}

}  // namespace
}  // namespace volbatch
