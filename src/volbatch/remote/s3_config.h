// S3 settings, found where the AWS tools look for them, so that a machine set up for the aws
// CLI or boto3 works unchanged:
//   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
//                profile's aws_access_key_id / aws_secret_access_key / aws_session_token in the
//                shared credentials file, then in the config file;
//   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, else us-east-1;
//   endpoint     AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's `s3 = endpoint_url = ...`
//                sub-setting, then its `endpoint_url`; none means AWS itself;
//   profile      AWS_PROFILE, else "default"; files ~/.aws/credentials ([NAME]) and
//                ~/.aws/config ([profile NAME], [default]), or AWS_SHARED_CREDENTIALS_FILE and
//                AWS_CONFIG_FILE.
// Requests are unsigned (anonymous, for public buckets) when AWS_NO_SIGN_REQUEST is YES or
// true, or when no credentials are found.
#pragma once

#include <string>

namespace volbatch {

struct S3Config {
  std::string access_key_id;
  std::string secret_access_key;  // never put into a message
  std::string session_token;      // sent as x-amz-security-token; never put into a message
  std::string region = "us-east-1";
  std::string endpoint;          // "http://127.0.0.1:9000": path-style; empty: AWS, virtual-hosted
  bool sign = false;             // false: anonymous requests
  std::string credentials_from;  // for messages: "AWS_ACCESS_KEY_ID", "profile default in ..."
};

// Reads the environment and the files. Throws InvalidArgument naming the profile and files when
// AWS_PROFILE names a profile neither file has, or one setting of a pair is missing.
S3Config LoadS3Config();

// The URL of `key` (already percent-encoded) in `bucket`: ENDPOINT/BUCKET/KEY with an endpoint,
// else https://BUCKET.s3.REGION.amazonaws.com/KEY. Bucket names with dots use path style on AWS
// too (a dotted host does not match AWS's TLS certificate).
std::string S3ObjectUrl(const S3Config& config, const std::string& bucket,
                        const std::string& encoded_key);

}  // namespace volbatch
