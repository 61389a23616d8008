#include "volbatch/remote/xml_scan.h"

#include <gtest/gtest.h>

namespace volbatch {
namespace {

TEST(XmlScan, ListObjectsV2Answer) {
  const std::string xml =
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>p/a&amp;b</Key><Size>3</Size></Contents>
<Contents><Key>p/&lt;x&gt; &#233;&#x4e2d;</Key><Size>1</Size></Contents>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";
  EXPECT_EQ(XmlTexts(xml, "Key"),
            (std::vector<std::string>{"p/a&b", "p/<x> \xc3\xa9\xe4\xb8\xad"}));
  EXPECT_EQ(XmlText(xml, "IsTruncated"), "true");
  EXPECT_EQ(XmlText(xml, "NextContinuationToken"), "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  EXPECT_FALSE(XmlText(xml, "UploadId").has_value());
}

TEST(XmlScan, ErrorAnswer) {
  const std::string xml =
      "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not "
      "exist</Message></Error>";
  EXPECT_EQ(XmlText(xml, "Code"), "NoSuchBucket");
  EXPECT_EQ(XmlText(xml, "Message"), "The specified bucket does not exist");
}

TEST(XmlScan, MalformedInputEndsTheScan) {
  EXPECT_TRUE(XmlTexts("<Key>a</Key><Key>unterminated", "Key") == std::vector<std::string>{"a"});
  EXPECT_FALSE(XmlText("<Key>open", "Key").has_value());
  EXPECT_EQ(XmlText("<Key>&bogus; &#xZZ; &#99999999; & x</Key>", "Key"),
            "&bogus; &#xZZ; &#99999999; & x");
  EXPECT_TRUE(XmlTexts("", "Key").empty());
}

}  // namespace
}  // namespace volbatch
