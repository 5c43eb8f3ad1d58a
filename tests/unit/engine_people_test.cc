// The engine's chat and profile operations called directly: say, profile
// set (keeping and removing fields), finding a member, and the members list.
#include <gtest/gtest.h>

#include "engine/people.h"
#include "engine_test_support.h"

namespace nb::engine::testing {
namespace {

using apps::profile::Identity;

Identity NewIdentity() {
  auto identity = apps::profile::IdentityFromSecret(apps::profile::GenerateIdentitySecret());
  EXPECT_TRUE(identity.ok());
  return std::move(*identity);
}

class EnginePeopleTest : public HomeFixture {
 protected:
  void SetUp() override {
    HomeFixture::SetUp();
    node_ = NewNode(temp_ / "store", &hub_);
  }
  std::unique_ptr<Node> node_;
  hub::Hub* hub_ = nullptr;
};

TEST_F(EnginePeopleTest, MembersCountSignedMessagesAndNameTheirAuthors) {
  Identity ada = NewIdentity();
  Identity bob = NewIdentity();
  ASSERT_TRUE(Say(*hub_, "  one  ", &ada, 1'000).ok());
  ASSERT_TRUE(Say(*hub_, "two", &ada, 2'000).ok());
  ASSERT_TRUE(Say(*hub_, "three", &bob, 3'000).ok());
  auto anonymous = Say(*hub_, "four", nullptr, 4'000);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE(Say(*hub_, "   ", nullptr, 5'000).ok());  // empty after trimming
  auto set = SetProfile(*hub_, ada, ProfileChange{"Ada", "maps"}, 6'000);
  ASSERT_TRUE(set.ok()) << set.error().message;

  auto readings = LoadReadings(*hub_);
  ASSERT_TRUE(readings.ok());
  ASSERT_EQ(readings->chat->messages().size(), 4u);
  EXPECT_EQ(readings->chat->messages()[0].body, "one");  // trimmed

  MemberList list = ListMembers(*readings, ada.id);
  ASSERT_EQ(list.members.size(), 2u);
  EXPECT_EQ(list.members[0].id, ada.id);  // named first
  ASSERT_TRUE(list.members[0].profile.has_value());
  EXPECT_EQ(list.members[0].profile->profile.display_name, "Ada");
  EXPECT_EQ(list.members[0].messages, 2u);
  EXPECT_TRUE(list.members[0].own);
  EXPECT_EQ(list.members[1].id, bob.id);
  EXPECT_FALSE(list.members[1].profile.has_value());
  EXPECT_EQ(list.members[1].messages, 1u);
  EXPECT_FALSE(list.members[1].own);
  EXPECT_EQ(list.hub_member_messages, 1u);

  auto found = FindMember(*readings, "Ada");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, ada.id);
  EXPECT_EQ(FindMember(*readings, "Nobody").error().code, ErrorCode::kNotFound);
}

TEST_F(EnginePeopleTest, ProfileSetKeepsWhatIsNotGivenAndNeverGoesBackInTime) {
  Identity ada = NewIdentity();
  // No profile yet: a name is required.
  auto nameless = SetProfile(*hub_, ada, ProfileChange{std::nullopt, "bio"}, 1'000);
  ASSERT_FALSE(nameless.ok());
  EXPECT_EQ(nameless.error().code, ErrorCode::kInvalidArgument);

  auto first = SetProfile(*hub_, ada, ProfileChange{"Ada", "maps"}, 10'000);
  ASSERT_TRUE(first.ok());
  // Only a bio, with a clock that went back: the name stays, ts moves on.
  auto second = SetProfile(*hub_, ada, ProfileChange{std::nullopt, "boats"}, 5'000);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->fields.display_name, "Ada");
  EXPECT_EQ(second->fields.bio, std::optional<std::string>("boats"));
  EXPECT_EQ(second->ts, 10'001);
  // "" removes the bio.
  auto third = SetProfile(*hub_, ada, ProfileChange{std::nullopt, ""}, 20'000);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->fields.bio.has_value());

  auto readings = LoadReadings(*hub_);
  ASSERT_TRUE(readings.ok());
  const auto* profile = readings->profiles.Find(ada.id);
  ASSERT_NE(profile, nullptr);
  EXPECT_EQ(profile->profile.display_name, "Ada");
  EXPECT_FALSE(profile->profile.bio.has_value());
}

}  // namespace
}  // namespace nb::engine::testing
