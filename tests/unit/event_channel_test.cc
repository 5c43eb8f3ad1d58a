// An event file is valid only in the channel of the key that signed it AND
// whose envelope names that key: a file signed with the channel's key but
// naming another hub's key in its envelope is refused (kWrongChannel), so a
// member cannot make an event look like it belongs to another hub.
#include <gtest/gtest.h>

#include "hub/hub.h"
#include "log/event.h"

namespace nb::log {
namespace {

TEST(EventChannel, AnEnvelopeNamingAnotherHubIsRefusedEvenIfSignedByThisOne) {
  auto ours = hub::HubKeys::FromSecret("channel-test:ours");
  auto theirs = hub::HubKeys::FromSecret("channel-test:theirs");
  ASSERT_TRUE(ours.ok() && theirs.ok());

  Envelope envelope{
      theirs->id(), {}, ours->SealPayload(R"({"type":"MKDIR","path":"x","createdAt":1})")};
  Hash256 hash = HashEnvelope(envelope);
  auto signature = ours->signing_key().SignDigest(hash);  // signed with the channel's own key
  std::string file = SerializeEventFile(envelope, signature);

  Rejection why = Rejection::kDeserializeFailed;
  auto valid = ValidateEventFile(ours->public_key(), hash, AsBytes(file), &why);
  ASSERT_FALSE(valid.ok());
  EXPECT_EQ(why, Rejection::kWrongChannel);

  // The control: the same payload with our own key in the envelope is valid.
  Envelope right{ours->id(), {}, envelope.ciphertext};
  Hash256 right_hash = HashEnvelope(right);
  std::string right_file = SerializeEventFile(right, ours->signing_key().SignDigest(right_hash));
  EXPECT_TRUE(ValidateEventFile(ours->public_key(), right_hash, AsBytes(right_file)).ok());
}

}  // namespace
}  // namespace nb::log
