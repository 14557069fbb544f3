// NgErrc's name table (every code has its rtpengine string, none twice)
// and NgError::message(), which joins a code's name and its detail the way
// today's error-reasons read.
#include "control/ng_error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace vox::control {
namespace {

TEST(NgError, EveryCodeHasItsOwnString) {
  std::set<std::string> seen;
  for (size_t i = 0; i < size_t(NgErrc::kCount); ++i) {
    const std::string name = to_string(NgErrc(i));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_NE(name, "?") << i;
    EXPECT_TRUE(seen.insert(name).second) << "twice: " << name;
    EXPECT_EQ((NgError{NgErrc(i), {}}.message()), name);  // no detail: the name alone
  }
  EXPECT_EQ(seen.size(), kNgErrcNames.size());
}

TEST(NgError, NamesAreRtpengines) {
  EXPECT_STREQ(to_string(NgErrc::kUnknownCallId), "Unknown call-id");
  EXPECT_STREQ(to_string(NgErrc::kTagsMismatch), "Call-ID not found or tags didn't match");
  EXPECT_STREQ(to_string(NgErrc::kSessionLimit), "Parallel session limit reached");
  EXPECT_STREQ(to_string(NgErrc::kOutOfPorts), "Ran out of ports");
  EXPECT_STREQ(to_string(NgErrc::kNoCallId), "No call-id in message");
  EXPECT_STREQ(to_string(NgErrc::kNoFromTag), "No from-tag in message");
  EXPECT_STREQ(to_string(NgErrc::kNoToTag), "No to-tag in message");
  EXPECT_STREQ(to_string(NgErrc::kNoSdp), "No SDP body in message");
  EXPECT_STREQ(to_string(NgErrc::kNoCommand), "Dictionary contains no key \"command\"");
  EXPECT_STREQ(to_string(NgErrc::kUnknownCommand), "Unrecognized command");
  EXPECT_STREQ(to_string(NgErrc::kInvalidLimit), "Invalid limit");
}

TEST(NgError, MessageJoinsNameAndDetail) {
  EXPECT_EQ((NgError{NgErrc::kUnknownInterface, "x"}.message()), "Unknown interface 'x'");
  EXPECT_EQ((NgError{NgErrc::kCannotTranscode, "G722/8000 to PCMU/8000"}.message()),
            "Cannot transcode G722/8000 to PCMU/8000");
  EXPECT_EQ((NgError{NgErrc::kSrtpSetup, "bad key"}.message()), "Failed to set up SRTP: bad key");
  EXPECT_EQ((NgError{NgErrc::kTranscoderSetup, "bad-ptime"}.message()),
            "Failed to set up transcoding: bad-ptime");
  // A lower layer's reason is the whole message.
  EXPECT_EQ((NgError{NgErrc::kSdp, "Incomplete SDP specification"}.message()),
            "Incomplete SDP specification");
  EXPECT_EQ((NgError{NgErrc::kCodec, "No codec in the answer"}.message()),
            "No codec in the answer");
  EXPECT_EQ((NgError{NgErrc::kSrtp, "Invalid transport protocol"}.message()),
            "Invalid transport protocol");
}

TEST(NgError, FailCarriesCodeAndDetail) {
  Result<int, NgError> r = ng_fail(NgErrc::kUnknownInterface, "y");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, NgErrc::kUnknownInterface);
  EXPECT_EQ(r.error().message(), "Unknown interface 'y'");
  Result<int, NgError> bare = ng_fail(NgErrc::kOutOfPorts);
  EXPECT_EQ(bare.error().message(), "Ran out of ports");
}

}  // namespace
}  // namespace vox::control
