#include "volbatch/remote/s3_config.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using Section = std::map<std::string, std::string>;
using Ini = std::map<std::string, Section>;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Strip(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The AWS INI dialect: [section], `key = value`, '#' and ';' comments, and indented
// `key = value` lines under a `name =` line with no value, stored as "name.key".
std::optional<Ini> ReadIni(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  Ini ini;
  Section* current = nullptr;
  std::string parent;  // the `name =` a nested block belongs to
  std::string line;
  while (std::getline(in, line)) {
    const std::string s = Strip(line);
    if (s.empty() || s[0] == '#' || s[0] == ';') continue;
    if (s.front() == '[' && s.back() == ']') {
      current = &ini[Strip(s.substr(1, s.size() - 2))];
      parent.clear();
      continue;
    }
    const size_t eq = s.find('=');
    if (!current || eq == std::string::npos) continue;
    const std::string key = Strip(s.substr(0, eq));
    const std::string value = Strip(s.substr(eq + 1));
    const bool indented = line[0] == ' ' || line[0] == '\t';
    if (indented && !parent.empty()) {
      (*current)[parent + "." + key] = value;
    } else if (value.empty()) {
      parent = key;
    } else {
      parent.clear();
      (*current)[key] = value;
    }
  }
  return ini;
}

std::string Home() {
  const std::string home = Env("HOME");
  return home.empty() ? "/root" : home;
}

std::string Get(const Section* s, const std::string& key) {
  if (!s) return "";
  const auto it = s->find(key);
  return it == s->end() ? "" : it->second;
}

bool Truthy(const std::string& v) {
  std::string l;
  for (char c : v) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return l == "yes" || l == "true" || l == "1";
}

}  // namespace

S3Config LoadS3Config() {
  S3Config c;
  const std::string profile_env = Env("AWS_PROFILE");
  const std::string profile = profile_env.empty() ? "default" : profile_env;
  std::string credentials_path = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (credentials_path.empty()) credentials_path = Home() + "/.aws/credentials";
  std::string config_path = Env("AWS_CONFIG_FILE");
  if (config_path.empty()) config_path = Home() + "/.aws/config";

  const auto credentials = ReadIni(credentials_path);
  const auto config = ReadIni(config_path);
  const Section* cred_section = nullptr;
  const Section* config_section = nullptr;
  if (credentials) {
    auto it = credentials->find(profile);
    if (it != credentials->end()) cred_section = &it->second;
  }
  if (config) {
    auto it = config->find(profile == "default" ? "default" : "profile " + profile);
    if (it == config->end() && profile == "default") it = config->find("profile default");
    if (it != config->end()) config_section = &it->second;
  }
  if (!profile_env.empty() && !cred_section && !config_section) {
    throw InvalidArgument("AWS_PROFILE=" + profile_env + ": no such profile in " +
                          credentials_path + " or " + config_path);
  }

  // Credentials: a complete pair from one place, never half from each.
  const std::string env_key = Env("AWS_ACCESS_KEY_ID");
  const std::string env_secret = Env("AWS_SECRET_ACCESS_KEY");
  if (!env_key.empty() || !env_secret.empty()) {
    if (env_key.empty() || env_secret.empty()) {
      throw InvalidArgument(std::string("S3 credentials: ") +
                            (env_key.empty()
                                 ? "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID"
                                 : "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY") +
                            " is not");
    }
    c.access_key_id = env_key;
    c.secret_access_key = env_secret;
    c.session_token = Env("AWS_SESSION_TOKEN");
    c.credentials_from = "AWS_ACCESS_KEY_ID";
  } else {
    for (const auto& [section, path] :
         {std::pair{cred_section, credentials_path}, std::pair{config_section, config_path}}) {
      const std::string key = Get(section, "aws_access_key_id");
      const std::string secret = Get(section, "aws_secret_access_key");
      if (key.empty() && secret.empty()) continue;
      if (key.empty() || secret.empty()) {
        throw InvalidArgument("S3 credentials: profile " + profile + " in " + path +
                              " has only one of aws_access_key_id and aws_secret_access_key");
      }
      c.access_key_id = key;
      c.secret_access_key = secret;
      c.session_token = Get(section, "aws_session_token");
      c.credentials_from = "profile " + profile + " in " + path;
      break;
    }
  }
  c.sign = !c.access_key_id.empty() && !Truthy(Env("AWS_NO_SIGN_REQUEST"));

  c.region = Env("AWS_REGION");
  if (c.region.empty()) c.region = Env("AWS_DEFAULT_REGION");
  if (c.region.empty()) c.region = Get(config_section, "region");
  if (c.region.empty()) c.region = "us-east-1";

  c.endpoint = Env("AWS_ENDPOINT_URL_S3");
  if (c.endpoint.empty()) c.endpoint = Env("AWS_ENDPOINT_URL");
  if (c.endpoint.empty()) c.endpoint = Get(config_section, "s3.endpoint_url");
  if (c.endpoint.empty()) c.endpoint = Get(config_section, "endpoint_url");
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  return c;
}

std::string S3ObjectUrl(const S3Config& config, const std::string& bucket,
                        const std::string& encoded_key) {
  if (!config.endpoint.empty()) return config.endpoint + "/" + bucket + "/" + encoded_key;
  if (bucket.find('.') != std::string::npos) {
    return "https://s3." + config.region + ".amazonaws.com/" + bucket + "/" + encoded_key;
  }
  return "https://" + bucket + ".s3." + config.region + ".amazonaws.com/" + encoded_key;
}

}  // namespace volbatch
