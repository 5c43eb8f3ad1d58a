// The engine's folder sync between two stores, and a node's mirroring of
// appends into an extra root, called directly (no CLI).
#include <gtest/gtest.h>

#include "engine/content_out.h"
#include "engine/folder_sync.h"
#include "engine/people.h"
#include "engine/put.h"
#include "engine_test_support.h"
#include "log/hub_log.h"

namespace nb::engine::testing {
namespace {

class EngineSyncTest : public HomeFixture {
 protected:
  FolderSyncRequest Request(const fs::path& folder, const std::string& hub_id) {
    FolderSyncRequest request;
    request.folder = folder;
    request.create = true;
    request.secrets[hub_id] = kSecret;
    return request;
  }
};

TEST_F(EngineSyncTest, TwoStoresConvergeThroughAFolder) {
  hub::Hub* a = nullptr;
  hub::Hub* b = nullptr;
  auto node_a = NewNode(temp_ / "a", &a);
  auto node_b = NewNode(temp_ / "b", &b);
  ASSERT_EQ(a->id(), b->id());
  Write(temp_ / "src" / "one.txt", "one\n");
  Write(temp_ / "src" / "two.bin", RandomText(400 * 1024, 3));
  {
    auto session = OpenFiles(*a);
    ASSERT_TRUE(session.ok());
    auto plan = PlanPut(session->reading(), {(temp_ / "src").string()}, "");
    ASSERT_TRUE(plan.ok());
    ASSERT_TRUE(StorePut(*session, *plan, nullptr).ok());
  }
  ASSERT_TRUE(Say(*a, "hello from a", nullptr, 1'000).ok());

  fs::path folder = temp_ / "usb";
  auto pushed = SyncWithFolder(node_a->store(), Request(folder, a->id()), nullptr);
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  EXPECT_GT(pushed->report.pushed.events, 0u);
  EXPECT_TRUE(pushed->report.rejected.empty());

  auto pulled = SyncWithFolder(node_b->store(), Request(folder, b->id()), nullptr);
  ASSERT_TRUE(pulled.ok()) << pulled.error().message;
  EXPECT_EQ(pulled->report.pulled.events, pushed->report.pushed.events);
  ASSERT_EQ(pulled->gains.size(), 1u);
  EXPECT_EQ(pulled->gains[0].change.added_files, 2u);
  EXPECT_EQ(pulled->gains[0].change.new_messages, 1u);

  // B reads everything A wrote.
  auto session = OpenFiles(*b);
  ASSERT_TRUE(session.ok());
  auto exported = ExportTree(*session, ExportOptions{"src", temp_ / "out", "", false}, nullptr);
  ASSERT_TRUE(exported.ok()) << exported.error().message;
  EXPECT_EQ(exported->written, 2u);
  EXPECT_EQ(Read(temp_ / "out" / "two.bin"), Read(temp_ / "src" / "two.bin"));
  auto readings = LoadReadings(*b);
  ASSERT_TRUE(readings.ok());
  ASSERT_EQ(readings->chat->messages().size(), 1u);
  EXPECT_EQ(readings->chat->messages()[0].body, "hello from a");

  // A second round carries nothing.
  auto again = SyncWithFolder(node_b->store(), Request(folder, b->id()), nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->report.pulled.events, 0u);
  EXPECT_EQ(again->report.pushed.events, 0u);
}

TEST_F(EngineSyncTest, NothingToCarryWithoutASecretOrAHub) {
  hub::Hub* a = nullptr;
  auto node = NewNode(temp_ / "a", &a);
  FolderSyncRequest request;
  request.folder = temp_ / "usb";
  request.create = true;
  auto synced = SyncWithFolder(node->store(), request, nullptr);
  ASSERT_FALSE(synced.ok());
  EXPECT_EQ(synced.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(temp_ / "usb"));
}

TEST_F(EngineSyncTest, AnUnknownHubPrefixIsRefusedBeforeCopying) {
  hub::Hub* a = nullptr;
  auto node = NewNode(temp_ / "a", &a);
  FolderSyncRequest request = Request(temp_ / "usb", a->id());
  request.hubs = {"ffff0000"};
  if (a->id().starts_with("ffff0000")) request.hubs = {"0000ffff"};
  auto synced = SyncWithFolder(node->store(), request, nullptr);
  ASSERT_FALSE(synced.ok());
  EXPECT_EQ(synced.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(temp_ / "usb"));
}

// A hub both held (its secret given) and present in the store was counted
// twice among the known hubs, so its id prefix "matched several hubs".
TEST_F(EngineSyncTest, AHubPrefixNamesAHubThatIsBothHeldAndPresent) {
  hub::Hub* a = nullptr;
  auto node = NewNode(temp_ / "a", &a);
  ASSERT_TRUE(Say(*a, "carried", nullptr, 1'000).ok());
  FolderSyncRequest request = Request(temp_ / "usb", a->id());
  request.hubs = {a->id().substr(0, 8)};
  auto synced = SyncWithFolder(node->store(), request, nullptr);
  ASSERT_TRUE(synced.ok()) << synced.error().message;
  EXPECT_EQ(synced->report.hubs_carried, std::vector<std::string>{a->id()});
  EXPECT_GT(synced->report.pushed.events, 0u);
}

TEST_F(EngineSyncTest, ANodeMirrorsItsAppendsIntoItsExtraRoots) {
  NodeOptions options;
  options.primary = temp_ / "store";
  options.create = true;
  ASSERT_TRUE(store::StorageRoot::Open(temp_ / "extra", /*create=*/true).ok());
  options.extra_roots = {temp_ / "extra", temp_ / "gone"};
  std::vector<std::string> warnings;
  auto node = Node::Open(options, &warnings);
  ASSERT_TRUE(node.ok()) << node.error().message;
  ASSERT_EQ(warnings.size(), 1u);  // the missing root is left out, with a line
  EXPECT_NE(warnings[0].find("gone"), std::string::npos);
  auto created = CreateHub(**node, kSecret, false, /*remember=*/false);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(Say(*created->hub, "mirrored", nullptr, 2'000).ok());
  auto mirrored = (*node)->MirrorAppends();
  ASSERT_TRUE(mirrored.ok());
  EXPECT_TRUE(mirrored->empty());

  // The extra root alone holds the hub's events now.
  auto extra = store::Store::Open({temp_ / "extra"}, false);
  ASSERT_TRUE(extra.ok());
  auto keys = hub::HubKeys::FromSecret(kSecret);
  ASSERT_TRUE(keys.ok());
  auto hub = hub::Hub::Open(extra->get(), std::move(*keys), false);
  ASSERT_TRUE(hub.ok()) << hub.error().message;
  auto readings = LoadReadings(**hub);
  ASSERT_TRUE(readings.ok());
  ASSERT_EQ(readings->chat->messages().size(), 1u);
  EXPECT_EQ(readings->chat->messages()[0].body, "mirrored");
}

}  // namespace
}  // namespace nb::engine::testing
