#include "apps/state/event_index.h"

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "apps/chat/written_chat.h"
#include "apps/hub_timeline.h"
#include "apps/payload.h"
#include "base/parallel.h"
#include "store/channel_dir.h"

namespace nb::apps::state {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Bytes PackRefs(const std::vector<crypto::Hash256>& refs) {
  Bytes out;
  out.reserve(refs.size() * 32);
  for (const auto& ref : refs) out.insert(out.end(), ref.bytes.begin(), ref.bytes.end());
  return out;
}

std::vector<crypto::Hash256> UnpackRefs(ByteSpan packed) {
  std::vector<crypto::Hash256> refs(packed.size() / 32);
  for (size_t i = 0; i < refs.size(); ++i) {
    std::copy_n(packed.data() + i * 32, 32, refs[i].bytes.begin());
  }
  return refs;
}

// The stored kind of an event whose payload could not be decrypted or
// decoded (its payload and timestamp are NULL). Not an EventKind bit.
constexpr int64_t kStoredUndecodable = 0;

// The mtime a scan records for a root without the hub's directory.
constexpr int64_t kNoDirectory = -2;

}  // namespace

crypto::Hash256 HashFromBlob(ByteSpan blob) {
  crypto::Hash256 h;
  if (blob.size() == h.bytes.size()) std::copy(blob.begin(), blob.end(), h.bytes.begin());
  return h;
}

EventKind KindOf(const files::DecodedEvent& event) {
  if (event.files) return kKindFiles;
  auto summary = SummarizePayload(event.app_payload);
  if (summary && summary->protocol == chat::kChatProtocol) return kKindChat;
  if (summary && summary->protocol.rfind("nb.identity.", 0) == 0) return kKindIdentity;
  return kKindOther;
}

EventIndex::Decoded EventIndex::Decode(const crypto::Hash256& hash,
                                       const std::vector<crypto::Hash256>& refs,
                                       std::string_view payload) const {
  Decoded out;
  // Most chat messages come in the one shape writers produce: decoded and
  // checked straight from the bytes. The general path below decides the rest.
  if (auto written =
          chat::DecodeWrittenChat(hub_->keys().public_key(), hub_->id(), hash, refs, payload)) {
    out.event = std::move(written->event);
    out.kind = kKindChat;
    out.chat = std::move(written->message);
    return out;
  }
  out.event = files::DecodeEvent(hash, refs, payload);
  if (out.event) {
    out.kind = KindOf(*out.event);
    out.chat = DecodeChat(*out.event, out.kind);
  }
  return out;
}

std::optional<chat::ChatMessage> EventIndex::DecodeChat(const files::DecodedEvent& decoded,
                                                        EventKind kind) const {
  if (kind != kKindChat) return std::nullopt;
  chat::ChatMessage message;
  if (chat::DecodeChatEvent(hub_->keys().public_key(), decoded, &message) !=
      chat::ChatDecode::kMessage) {
    return std::nullopt;
  }
  return message;
}

Status EventIndex::Store(const crypto::Hash256& hash, const store::EntryStat& stat,
                         const std::vector<crypto::Hash256>& refs,
                         const files::DecodedEvent* decoded, EventKind kind,
                         const std::string& payload, const chat::ChatMessage* chat) {
  if (!put_event_) {
    NB_ASSIGN_OR_RETURN(
        put_event_,
        db_->Prepare("INSERT OR REPLACE INTO events(hub, hash, size, mtime_ns, timestamp, kind, "
                     "refs, payload) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  }
  Statement& put = *put_event_;
  put.Bind(1, hub_->id())
      .BindBlob(2, hash.bytes)
      .Bind(3, static_cast<int64_t>(stat.size))
      .Bind(4, stat.mtime_ns)
      .BindBlob(7, PackRefs(refs));
  put.Bind(6, decoded ? static_cast<int64_t>(kind) : kStoredUndecodable);
  if (decoded) {
    put.Bind(5, decoded->timestamp).Bind(8, payload);
  } else {
    put.BindNull(5).BindNull(8);
  }
  NB_RETURN_IF_ERROR(put.Run());
  if (chat == nullptr) return Status::Ok();
  const chat::ChatMessage& message = *chat;
  if (!put_chat_) {
    NB_ASSIGN_OR_RETURN(
        put_chat_,
        db_->Prepare("INSERT OR REPLACE INTO chat(hub, published_at, hash, ts, body, verified, "
                     "author_status, author_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  }
  return put_chat_->Bind(1, hub_->id())
      .Bind(2, message.published_at)
      .BindBlob(3, message.event_hash.bytes)
      .Bind(4, message.ts)
      .Bind(5, message.body)
      .Bind(6, message.verified ? 1 : 0)
      .Bind(7, static_cast<int64_t>(message.author_status))
      .Bind(8, message.author_id)
      .Run();
}

Result<RefreshReport> EventIndex::Refresh(unsigned threads) {
  RefreshReport report;
  const std::string& hub_id = hub_->id();
  store::Store& store = hub_->store();
  const size_t root_count = store.roots().size();

  // Each root's channel directory, opened once (its files are stat'ed
  // through it). Which ones changed since they were last listed? A root
  // without the directory (or one we cannot open) holds nothing of the hub.
  std::vector<std::optional<store::ChannelDir>> dirs(root_count);
  NB_ASSIGN_OR_RETURN(Statement get_scan,
                      db_->Prepare("SELECT dir_mtime_ns FROM scans WHERE hub=? AND root=?"));
  std::vector<std::pair<size_t, int64_t>> changed;  // root index, new mtime
  for (size_t r = 0; r < root_count; ++r) {
    auto& root = store.roots()[r];
    auto dir = store::ChannelDir::Open(root, hub_id);
    if (dir.ok()) {
      dirs[r].emplace(std::move(*dir));
    } else if (dir.error().code != ErrorCode::kNotFound) {
      continue;  // unreadable for now: what the index knows of it stands
    }
    // A directory that went away changed too: its events vanished.
    const int64_t mtime = dirs[r] ? dirs[r]->mtime_ns() : kNoDirectory;
    get_scan.Bind(1, hub_id).Bind(2, root.path().string());
    NB_ASSIGN_OR_RETURN(bool has_row, get_scan.Step());
    int64_t stored = has_row ? get_scan.Int(0) : kNoDirectory;
    get_scan.Reset();
    if (stored != mtime) changed.emplace_back(r, mtime);
  }
  // Taken before any listing: a name added in the same mtime tick as the
  // one read above, but after its listing, is caught by the racy rule below
  // only if the rule measures from here (a long verification must not age
  // that tick into a trusted one).
  const int64_t listed_at = NowNs();
  report.listed = !changed.empty();
  // No directory changed: the index holds every name there is.
  if (!report.listed) return report;

  // Every event the index knows of this hub, sorted by hash (the key's
  // order), so a listing is compared by one merge, without a hash table.
  std::vector<crypto::Hash256> known;
  {
    NB_ASSIGN_OR_RETURN(Statement all,
                        db_->Prepare("SELECT hash FROM events INDEXED BY events_stats "
                                     "WHERE hub=? ORDER BY hash"));
    all.Bind(1, hub_id);
    for (;;) {
      NB_ASSIGN_OR_RETURN(bool row, all.Step());
      if (!row) break;
      known.push_back(HashFromBlob(all.Blob(0)));
    }
    // A damaged database may break the order or the key; never trust it.
    if (!std::is_sorted(known.begin(), known.end())) std::sort(known.begin(), known.end());
  }

  // List every root (a hash may move between roots): names the index does
  // not know are new, known hashes no root lists any more vanished.
  struct Check {
    crypto::Hash256 hash;
    size_t root;
  };
  std::vector<Check> checks;
  std::vector<crypto::Hash256> vanished;
  {
    std::vector<std::pair<crypto::Hash256, size_t>> names;  // hash, root
    for (size_t r = 0; r < root_count; ++r) {
      if (!dirs[r]) continue;
      NB_ASSIGN_OR_RETURN(auto hashes, dirs[r]->ListEvents());
      names.reserve(names.size() + hashes.size());
      for (const auto& hash : hashes) names.emplace_back(hash, r);
    }
    if (root_count > 1) {
      std::sort(names.begin(), names.end());  // by hash, then the first root
      names.erase(std::unique(names.begin(), names.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  names.end());
    }
    size_t k = 0;
    for (const auto& [hash, r] : names) {
      while (k < known.size() && known[k] < hash) vanished.push_back(known[k++]);
      if (k < known.size() && known[k] == hash) {
        ++k;
      } else {
        checks.push_back(Check{hash, r});
      }
    }
    while (k < known.size()) vanished.push_back(known[k++]);
  }
  known = {};
  report.checked = checks.size();

  // Each new file is stat'ed (every core) for the row the index keeps.
  std::vector<std::optional<store::EntryStat>> stats(checks.size());
  ParallelFor(checks.size(), threads, [&](size_t i) {
    auto st = dirs[checks[i].root]->StatEvent(checks[i].hash);
    if (st.ok()) stats[i] = *st;
  });
  struct Candidate {
    crypto::Hash256 hash;
    store::EntryStat stat;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < checks.size(); ++i) {
    if (!stats[i]) continue;  // gone: the next listing drops it
    candidates.push_back(Candidate{checks[i].hash, *stats[i]});
  }
  checks = {};
  stats = {};

  // Verify and decode the new files on every core, a slice at a time so
  // memory stays bounded however large the hub (and an interrupted cold
  // replay keeps what it did).
  struct Outcome {
    std::optional<log::ValidEvent> event;
    std::string payload;
    Decoded decoded;
    std::optional<std::string> refused;
  };
  // Storing a slice (one thread: SQLite) overlaps with verifying the next
  // one (every core), so the cores stay busy.
  auto store_slice = [&](std::vector<Outcome> outcomes, size_t begin) -> Status {
    StateDb::Transaction txn(db_);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      auto& outcome = outcomes[i];
      const auto& c = candidates[begin + i];
      if (outcome.refused) {
        report.refused.push_back(log::RefusedEvent{c.hash, *outcome.refused});
        continue;
      }
      if (!outcome.event) continue;
      auto& decoded = outcome.decoded;
      NB_RETURN_IF_ERROR(Store(c.hash, c.stat, outcome.event->envelope.block_refs,
                               decoded.event ? &*decoded.event : nullptr, decoded.kind,
                               outcome.payload, decoded.chat ? &*decoded.chat : nullptr));
      if (!decoded.event) {
        ++report.undecodable;
      } else if (keep_added_) {
        report.added.push_back(std::move(*decoded.event));
      } else {
        ++report.added_count;
      }
    }
    return txn.Commit();
  };
  // A long replay (a cold open of a big hub) is shown to whoever watches
  // the hub; a few new events are not worth a line.
  constexpr size_t kProgressFrom = 2000;
  ProgressObserver* progress =
      candidates.size() >= kProgressFrom ? hub_->replay_progress() : nullptr;
  if (progress != nullptr) progress->Begin(0, candidates.size());
  // Ends the line however this returns.
  auto end_progress = [](ProgressObserver* p) { p->End(); };
  std::unique_ptr<ProgressObserver, decltype(end_progress)> progress_end(progress, end_progress);
  // HubLog::ReadEvent, through the channel directories opened above (no
  // path walk per file): the first root whose copy verifies wins; a copy
  // that does not is quarantined and the next root is tried.
  auto read_event = [&](const crypto::Hash256& hash) -> Result<log::ValidEvent> {
    std::optional<Error> corrupt;
    for (size_t r = 0; r < root_count; ++r) {
      if (!dirs[r]) continue;
      auto bytes = dirs[r]->ReadEvent(hash);
      if (!bytes.ok()) {
        if (bytes.error().code == ErrorCode::kNotFound) continue;
        return bytes.error();
      }
      auto valid = hub_->log().ValidateAt(store.roots()[r], hash, *bytes);
      if (valid.ok()) return valid;
      corrupt = valid.error();
    }
    if (corrupt) return *corrupt;
    return MakeError(ErrorCode::kNotFound, "event " + hash.Hex() + " is not in this hub");
  };
  constexpr size_t kSlice = 8192;
  std::future<Status> storing;
  for (size_t begin = 0; begin < candidates.size(); begin += kSlice) {
    size_t n = std::min(kSlice, candidates.size() - begin);
    std::vector<Outcome> outcomes(n);
    ParallelFor(n, threads, [&](size_t i) {
      if (progress != nullptr) progress->AddFiles(1);
      auto& c = candidates[begin + i];
      auto valid = read_event(c.hash);
      if (!valid.ok()) {
        if (valid.error().code != ErrorCode::kNotFound) outcomes[i].refused = valid.error().message;
        return;
      }
      auto payload = hub_->DecryptPayload(*valid);
      if (payload.ok()) {
        outcomes[i].decoded = Decode(valid->hash, valid->envelope.block_refs, *payload);
        outcomes[i].payload = std::move(*payload);
      }
      outcomes[i].event = std::move(*valid);
    });
    if (storing.valid()) NB_RETURN_IF_ERROR(storing.get());
    storing = std::async(std::launch::async, store_slice, std::move(outcomes), begin);
  }
  if (storing.valid()) NB_RETURN_IF_ERROR(storing.get());
  progress_end.reset();

  if (!report.listed) return report;
  StateDb::Transaction txn(db_);
  // Files that vanished from every root leave the index.
  for (const crypto::Hash256& hash : vanished) {
    NB_RETURN_IF_ERROR(Forget(hash));
    ++report.removed;
  }
  // Remember the listing. A directory modified in the two seconds before it
  // was listed may have changed again within the same mtime tick, unseen by
  // the listing, so it is listed again next time.
  NB_ASSIGN_OR_RETURN(
      Statement put_scan,
      db_->Prepare("INSERT OR REPLACE INTO scans(hub, root, dir_mtime_ns) VALUES(?, ?, ?)"));
  for (const auto& [r, mtime] : changed) {
    int64_t recorded = listed_at - mtime < 2'000'000'000 ? 0 : mtime;
    put_scan.Bind(1, hub_id).Bind(2, store.roots()[r].path().string()).Bind(3, recorded);
    NB_RETURN_IF_ERROR(put_scan.Run());
  }
  NB_RETURN_IF_ERROR(txn.Commit());
  return report;
}

Status EventIndex::Forget(const crypto::Hash256& hash) {
  if (!drop_event_) {
    NB_ASSIGN_OR_RETURN(drop_event_, db_->Prepare("DELETE FROM events WHERE hub=? AND hash=?"));
    NB_ASSIGN_OR_RETURN(drop_chat_, db_->Prepare("DELETE FROM chat WHERE hub=? AND hash=?"));
  }
  NB_RETURN_IF_ERROR(drop_event_->Bind(1, hub_->id()).BindBlob(2, hash.bytes).Run());
  return drop_chat_->Bind(1, hub_->id()).BindBlob(2, hash.bytes).Run();
}

Result<std::vector<files::DecodedEvent>> EventIndex::LoadAll(unsigned kinds) {
  // Every kind: one pass over the table. Some kinds: through the kind
  // index, which SQLite would not pick by itself (it prefers scanning the
  // table to a lookup per row), so that a few identity records or FILES
  // events among a million chat messages cost only themselves.
  const bool every_kind = (kinds & kAllKinds) == kAllKinds;
  NB_ASSIGN_OR_RETURN(
      Statement all,
      db_->Prepare(every_kind ? "SELECT hash, refs, payload FROM events WHERE hub=? AND kind>?"
                              : "SELECT hash, refs, payload FROM events INDEXED BY events_by_kind "
                                "WHERE hub=? AND kind=?"));
  std::vector<files::DecodedEvent> events;
  for (unsigned kind : {kKindOther, kKindFiles, kKindChat, kKindIdentity}) {
    if ((kinds & kind) == 0) continue;
    all.Bind(1, hub_->id()).Bind(2, every_kind ? kStoredUndecodable : static_cast<int64_t>(kind));
    for (;;) {
      NB_ASSIGN_OR_RETURN(bool row, all.Step());
      if (!row) break;
      auto decoded =
          files::DecodeEvent(HashFromBlob(all.Blob(0)), UnpackRefs(all.Blob(1)), all.Text(2));
      if (decoded) events.push_back(std::move(*decoded));
    }
    all.Reset();
    if (every_kind) break;
  }
  return events;
}

Result<std::optional<files::DecodedEvent>> EventIndex::LoadOne(const crypto::Hash256& hash) {
  NB_ASSIGN_OR_RETURN(Statement one,
                      db_->Prepare("SELECT refs, payload FROM events WHERE hub=? AND hash=? AND "
                                   "payload IS NOT NULL"));
  one.Bind(1, hub_->id()).BindBlob(2, hash.bytes);
  NB_ASSIGN_OR_RETURN(bool row, one.Step());
  if (!row) return std::optional<files::DecodedEvent>();
  return files::DecodeEvent(hash, UnpackRefs(one.Blob(0)), one.Text(1));
}

Result<std::vector<files::OrderNode>> EventIndex::FilesOrderKeys() {
  // From files_keys, which triggers keep in step with the FILES events of
  // the index (state_db.cc): a few bytes each, read in sequence.
  NB_ASSIGN_OR_RETURN(Statement rows,
                      db_->Prepare("SELECT hash, timestamp, parent FROM files_keys WHERE hub=?"));
  rows.Bind(1, hub_->id());
  std::vector<files::OrderNode> nodes;
  std::unordered_set<crypto::Hash256> files_hashes;
  for (;;) {
    NB_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    files::OrderNode node{HashFromBlob(rows.Blob(0)), rows.Int(1), std::nullopt, true};
    if (rows.Blob(2).size() == 32) node.parent = HashFromBlob(rows.Blob(2));
    files_hashes.insert(node.hash);
    nodes.push_back(node);
  }
  // Parents that are not FILES events (rare: another client's choice).
  NB_ASSIGN_OR_RETURN(Statement other,
                      db_->Prepare("SELECT timestamp FROM events WHERE hub=? AND hash=? AND "
                                   "payload IS NOT NULL"));
  std::unordered_set<crypto::Hash256> added;
  const size_t files_count = nodes.size();
  for (size_t i = 0; i < files_count; ++i) {
    if (!nodes[i].parent) continue;
    const crypto::Hash256 parent = *nodes[i].parent;
    if (files_hashes.count(parent) || added.count(parent)) continue;
    other.Bind(1, hub_->id()).BindBlob(2, parent.bytes);
    NB_ASSIGN_OR_RETURN(bool row, other.Step());
    if (row) {
      nodes.push_back(files::OrderNode{parent, other.Int(0), std::nullopt, false});
      added.insert(parent);
    }
    other.Reset();
  }
  return nodes;
}

Status EventIndex::Record(const log::ValidEvent& event, const std::string& payload) {
  auto* root = hub_->store().RootWithEvent(hub_->id(), event.hash);
  if (root == nullptr) return MakeError(ErrorCode::kNotFound, "appended event is not on disk");
  NB_ASSIGN_OR_RETURN(store::EntryStat st, root->StatEvent(hub_->id(), event.hash));
  Decoded decoded = Decode(event.hash, event.envelope.block_refs, payload);
  return Store(event.hash, st, event.envelope.block_refs, decoded.event ? &*decoded.event : nullptr,
               decoded.kind, payload, decoded.chat ? &*decoded.chat : nullptr);
}

Status EventIndex::RecordAppended(const std::vector<Appended>& events) {
  if (events.empty()) return Status::Ok();
  store::Store& store = hub_->store();
  std::vector<std::optional<store::ChannelDir>> dirs;
  for (auto& root : store.roots()) {
    auto dir = store::ChannelDir::Open(root, hub_->id());
    dirs.emplace_back(dir.ok() ? std::optional<store::ChannelDir>(std::move(*dir)) : std::nullopt);
  }
  StateDb::Transaction txn(db_);
  for (const auto& event : events) {
    std::optional<store::EntryStat> stat;
    for (const auto& dir : dirs) {
      if (!dir) continue;
      auto st = dir->StatEvent(event.hash);
      if (st.ok()) {
        stat = *st;
        break;
      }
    }
    if (!stat) continue;
    if (event.files_timestamp) {
      // A FILES event its writer decoded already: only the kind and the
      // timestamp are stored besides the payload.
      files::DecodedEvent stored;
      stored.timestamp = *event.files_timestamp;
      NB_RETURN_IF_ERROR(
          Store(event.hash, *stat, event.refs, &stored, kKindFiles, event.payload, nullptr));
      continue;
    }
    Decoded decoded = Decode(event.hash, event.refs, event.payload);
    NB_RETURN_IF_ERROR(Store(event.hash, *stat, event.refs,
                             decoded.event ? &*decoded.event : nullptr, decoded.kind, event.payload,
                             decoded.chat ? &*decoded.chat : nullptr));
  }
  return txn.Commit();
}

Result<std::vector<chat::ChatMessage>> EventIndex::ChatMessages(size_t limit) {
  NB_ASSIGN_OR_RETURN(
      Statement rows,
      db_->Prepare("SELECT published_at, hash, ts, body, verified, author_status, author_id "
                   "FROM chat WHERE hub=? ORDER BY published_at DESC, hash DESC LIMIT ?"));
  rows.Bind(1, hub_->id()).Bind(2, limit == 0 ? INT64_MAX : static_cast<int64_t>(limit));
  std::vector<chat::ChatMessage> out;
  for (;;) {
    NB_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    chat::ChatMessage m;
    m.published_at = rows.Int(0);
    m.event_hash = HashFromBlob(rows.Blob(1));
    m.ts = rows.Int(2);
    m.body = std::string(rows.Text(3));
    m.verified = rows.Int(4) != 0;
    m.author_status = static_cast<chat::AuthorStatus>(rows.Int(5));
    m.author_id = std::string(rows.Text(6));
    out.push_back(std::move(m));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<size_t> EventIndex::ChatCount() {
  NB_ASSIGN_OR_RETURN(Statement count, db_->Prepare("SELECT count(*) FROM chat WHERE hub=?"));
  count.Bind(1, hub_->id());
  NB_ASSIGN_OR_RETURN(bool row, count.Step());
  return row ? static_cast<size_t>(count.Int(0)) : 0;
}

Result<size_t> EventIndex::KindCount(unsigned kinds) {
  NB_ASSIGN_OR_RETURN(Statement count,
                      db_->Prepare("SELECT count(*) FROM events WHERE hub=? AND kind=?"));
  size_t total = 0;
  for (unsigned kind : {kKindOther, kKindFiles, kKindChat, kKindIdentity}) {
    if ((kinds & kind) == 0) continue;
    count.Bind(1, hub_->id()).Bind(2, static_cast<int64_t>(kind));
    NB_ASSIGN_OR_RETURN(bool row, count.Step());
    if (row) total += static_cast<size_t>(count.Int(0));
    count.Reset();
  }
  return total;
}

Result<size_t> EventIndex::UndecodableCount() {
  NB_ASSIGN_OR_RETURN(Statement count,
                      db_->Prepare("SELECT count(*) FROM events WHERE hub=? AND kind=?"));
  count.Bind(1, hub_->id()).Bind(2, kStoredUndecodable);
  NB_ASSIGN_OR_RETURN(bool row, count.Step());
  return row ? static_cast<size_t>(count.Int(0)) : 0;
}

Status EventIndex::InvalidateScans() {
  NB_ASSIGN_OR_RETURN(Statement clear, db_->Prepare("DELETE FROM scans WHERE hub=?"));
  return clear.Bind(1, hub_->id()).Run();
}

}  // namespace nb::apps::state
