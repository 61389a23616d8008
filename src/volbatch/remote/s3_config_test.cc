#include "volbatch/remote/s3_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

const char* const kVars[] = {
    "AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",   "AWS_REGION",
    "AWS_DEFAULT_REGION",          "AWS_ENDPOINT_URL_S3",   "AWS_ENDPOINT_URL",    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",       "AWS_NO_SIGN_REQUEST", "HOME"};

// Each test starts from an environment without AWS settings and a HOME of its own; the
// original environment comes back afterwards.
class S3ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVars) {
      const char* old = std::getenv(v);
      saved_[v] = old ? std::optional<std::string>(old) : std::nullopt;
      ::unsetenv(v);
    }
    home_ = fs::temp_directory_path() / ("volbatch_s3_config_" + std::to_string(::getpid()));
    fs::create_directories(home_ / ".aws");
    ::setenv("HOME", home_.c_str(), 1);
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    fs::remove_all(home_);
  }
  void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  fs::path home_;
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(S3ConfigTest, NothingSetIsAnonymousAwsInUsEast1) {
  const S3Config c = LoadS3Config();
  EXPECT_FALSE(c.sign);
  EXPECT_EQ(c.region, "us-east-1");
  EXPECT_EQ(c.endpoint, "");
  EXPECT_EQ(S3ObjectUrl(c, "bkt", "a/b"), "https://bkt.s3.us-east-1.amazonaws.com/a/b");
  EXPECT_EQ(S3ObjectUrl(c, "my.bkt", "a"), "https://s3.us-east-1.amazonaws.com/my.bkt/a");
}

TEST_F(S3ConfigTest, EnvironmentWins) {
  Write(home_ / ".aws/credentials",
        "[default]\naws_access_key_id = FILEKEY\n"
        "aws_secret_access_key = FILESECRET\n");
  Write(home_ / ".aws/config", "[default]\nregion = eu-west-1\n");
  ::setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
  ::setenv("AWS_SESSION_TOKEN", "TOKEN", 1);
  ::setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
  ::setenv("AWS_ENDPOINT_URL", "http://generic:1", 1);
  ::setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/", 1);
  S3Config c = LoadS3Config();
  EXPECT_TRUE(c.sign);
  EXPECT_EQ(c.access_key_id, "ENVKEY");
  EXPECT_EQ(c.secret_access_key, "ENVSECRET");
  EXPECT_EQ(c.session_token, "TOKEN");
  EXPECT_EQ(c.region, "us-west-2");
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(S3ObjectUrl(c, "bkt", "a/b"), "http://127.0.0.1:9000/bkt/a/b");
  ::setenv("AWS_REGION", "ap-south-1", 1);
  ::unsetenv("AWS_ENDPOINT_URL_S3");
  c = LoadS3Config();
  EXPECT_EQ(c.region, "ap-south-1");
  EXPECT_EQ(c.endpoint, "http://generic:1");
}

TEST_F(S3ConfigTest, ProfileFromTheSharedFiles) {
  Write(home_ / ".aws/credentials",
        "# comment\n[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = DEFSECRET\n"
        "[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = DEVSECRET\n"
        "aws_session_token = DEVTOKEN\n");
  Write(home_ / ".aws/config",
        "[default]\nregion = eu-west-1\n[profile dev]\nregion = eu-central-1\n"
        "endpoint_url = http://generic:2\ns3 =\n  endpoint_url = http://s3only:3\n");
  S3Config c = LoadS3Config();
  EXPECT_EQ(c.access_key_id, "DEFKEY");
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.endpoint, "");
  ::setenv("AWS_PROFILE", "dev", 1);
  c = LoadS3Config();
  EXPECT_TRUE(c.sign);
  EXPECT_EQ(c.access_key_id, "DEVKEY");
  EXPECT_EQ(c.secret_access_key, "DEVSECRET");
  EXPECT_EQ(c.session_token, "DEVTOKEN");
  EXPECT_EQ(c.region, "eu-central-1");
  EXPECT_EQ(c.endpoint, "http://s3only:3");
  EXPECT_NE(c.credentials_from.find("profile dev"), std::string::npos);
}

TEST_F(S3ConfigTest, FileLocationsFromTheEnvironment) {
  Write(home_ / "creds", "[p]\naws_access_key_id = K\naws_secret_access_key = S\n");
  Write(home_ / "conf",
        "[profile p]\nregion = sa-east-1\naws_access_key_id = IGNORED\n"
        "aws_secret_access_key = IGNORED\n");
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (home_ / "creds").c_str(), 1);
  ::setenv("AWS_CONFIG_FILE", (home_ / "conf").c_str(), 1);
  ::setenv("AWS_PROFILE", "p", 1);
  const S3Config c = LoadS3Config();
  EXPECT_EQ(c.access_key_id, "K");  // the credentials file comes first
  EXPECT_EQ(c.region, "sa-east-1");
}

TEST_F(S3ConfigTest, CredentialsInTheConfigFileOnly) {
  Write(home_ / ".aws/config", "[profile c]\naws_access_key_id = CK\naws_secret_access_key = CS\n");
  ::setenv("AWS_PROFILE", "c", 1);
  const S3Config c = LoadS3Config();
  EXPECT_TRUE(c.sign);
  EXPECT_EQ(c.access_key_id, "CK");
}

TEST_F(S3ConfigTest, NoSignRequest) {
  ::setenv("AWS_ACCESS_KEY_ID", "K", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
  ::setenv("AWS_NO_SIGN_REQUEST", "YES", 1);
  EXPECT_FALSE(LoadS3Config().sign);
}

TEST_F(S3ConfigTest, MistakesAreNamedWithoutSecrets) {
  ::setenv("AWS_PROFILE", "nosuch", 1);
  try {
    LoadS3Config();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("nosuch"), std::string::npos) << e.what();
  }
  ::unsetenv("AWS_PROFILE");
  ::setenv("AWS_SECRET_ACCESS_KEY", "HALFSECRET", 1);
  try {
    LoadS3Config();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("HALFSECRET"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace volbatch
