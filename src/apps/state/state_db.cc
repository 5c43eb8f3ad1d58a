#include "apps/state/state_db.h"

#include <cstdlib>
#include <system_error>

namespace nb::apps::state {
namespace {

// Bump when the schema changes: an older database is rebuilt from scratch.
constexpr int kSchemaVersion = 6;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
-- Every event file already verified (hash, signature, channel) and decoded.
-- A file whose size or mtime changed is verified again.
CREATE TABLE IF NOT EXISTS events (
  hub TEXT NOT NULL,
  hash BLOB NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  timestamp INTEGER,          -- NULL: payload could not be decoded
  kind INTEGER NOT NULL,      -- EventKind: which reading the payload feeds; 0: undecodable
  refs BLOB NOT NULL,         -- blockRefs, 32 bytes each
  payload TEXT,               -- decrypted inner payload JSON (local, never synced)
  PRIMARY KEY (hub, hash)
) WITHOUT ROWID;
-- Narrow indexes, so reopening a large hub never scans the payloads: a
-- reopen reads what each file was verified with (events_stats covers it).
DROP INDEX IF EXISTS events_hashes;
CREATE INDEX IF NOT EXISTS events_stats ON events(hub, hash, size, mtime_ns);
CREATE INDEX IF NOT EXISTS events_by_kind ON events(hub, kind);
-- The chat projection: one row per message, kept in step with the index
-- (rows come and go with their events), ordered by (publishedAt, hash).
CREATE TABLE IF NOT EXISTS chat (
  hub TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  hash BLOB NOT NULL,
  ts INTEGER NOT NULL,
  body TEXT NOT NULL,
  verified INTEGER NOT NULL,
  author_status INTEGER NOT NULL,
  author_id TEXT NOT NULL,
  PRIMARY KEY (hub, published_at, hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chat_by_hash ON chat(hub, hash);
-- Channel directories as last listed: an unchanged directory mtime means no
-- file was added or removed, so a reopen does not list it again.
-- The FILES projection (files_projection.h): the canonical order it last
-- folded (packed nodes), the FILES epoch of the index it was computed from
-- (-1: unknown), the parents outside the order it depended on, and fold
-- states at some positions of it (the live one at or near the end).
CREATE TABLE IF NOT EXISTS files_nodes (
  hub TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL,
  nodes BLOB NOT NULL,
  outside BLOB NOT NULL
);
-- What the FILES order needs of each FILES event (kind 2, EventKind
-- kKindFiles), in a table of its own so that computing the order reads
-- these few bytes in sequence rather than looking up every event's row.
CREATE TABLE IF NOT EXISTS files_keys (
  hub TEXT NOT NULL,
  hash BLOB NOT NULL,
  timestamp INTEGER NOT NULL,
  parent BLOB,                -- blockRefs[0] (NULL or empty: none)
  PRIMARY KEY (hub, hash)
) WITHOUT ROWID;
-- Triggers keep it in step with the index, and bump the FILES epoch with
-- every FILES event that enters or leaves the index, in the same
-- transaction, so an unchanged epoch proves the FILES order's inputs
-- unchanged.
CREATE TRIGGER IF NOT EXISTS files_epoch_in AFTER INSERT ON events WHEN new.kind = 2 BEGIN
  INSERT OR REPLACE INTO files_keys(hub, hash, timestamp, parent)
  VALUES(new.hub, new.hash, new.timestamp, substr(new.refs, 1, 32));
  INSERT INTO meta(key, value) VALUES('files_epoch:' || new.hub, 1)
  ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS files_epoch_out AFTER DELETE ON events WHEN old.kind = 2 BEGIN
  DELETE FROM files_keys WHERE hub = old.hub AND hash = old.hash;
  INSERT INTO meta(key, value) VALUES('files_epoch:' || old.hub, 1)
  ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS files_epoch_change AFTER UPDATE ON events
WHEN old.kind = 2 OR new.kind = 2 BEGIN
  DELETE FROM files_keys WHERE hub = old.hub AND hash = old.hash;
  INSERT OR REPLACE INTO files_keys(hub, hash, timestamp, parent)
  SELECT new.hub, new.hash, new.timestamp, substr(new.refs, 1, 32) WHERE new.kind = 2;
  INSERT INTO meta(key, value) VALUES('files_epoch:' || new.hub, 1)
  ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TABLE IF NOT EXISTS files_state (
  hub TEXT NOT NULL,
  pos INTEGER NOT NULL,
  state BLOB NOT NULL,
  PRIMARY KEY (hub, pos)
);
CREATE TABLE IF NOT EXISTS scans (
  hub TEXT NOT NULL,
  root TEXT NOT NULL,
  dir_mtime_ns INTEGER NOT NULL,
  PRIMARY KEY (hub, root)
) WITHOUT ROWID;
)sql";

Error SqlError(sqlite3* db, std::string_view what) {
  return MakeError(ErrorCode::kIo,
                   "local state database: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::BindBlob(int index, ByteSpan blob) {
  // A zero-length blob must not bind as NULL.
  static const uint8_t kEmpty = 0;
  sqlite3_bind_blob64(stmt_, index, blob.empty() ? &kEmpty : blob.data(), blob.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(db_, "step");
}

Status Statement::Run() {
  auto stepped = Step();
  Reset();
  if (!stepped.ok()) return stepped.error();
  return Status::Ok();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string_view Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  int size = sqlite3_column_bytes(stmt_, column);
  return text == nullptr ? std::string_view() : std::string_view(text, static_cast<size_t>(size));
}

ByteSpan Statement::Blob(int column) const {
  const auto* blob = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  int size = sqlite3_column_bytes(stmt_, column);
  return blob == nullptr ? ByteSpan() : ByteSpan(blob, static_cast<size_t>(size));
}

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  for (int attempt = 0; attempt < 2; ++attempt) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(file.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<StateDb> db(new StateDb(raw));
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(raw, 5000);
      Status schema = db->ApplySchema();
      if (schema.ok()) return db;
      if (attempt == 1) return schema.error();
    } else if (attempt == 1) {
      return SqlError(raw, "open " + file.string());
    }
    // Derived state only: set the unusable file aside and start afresh.
    db.reset();
    std::filesystem::rename(file, file.string() + ".broken", ec);
    std::filesystem::remove(file.string() + "-wal", ec);
    std::filesystem::remove(file.string() + "-shm", ec);
  }
  return MakeError(ErrorCode::kInternal, "unreachable");
}

StateDb::~StateDb() { sqlite3_close(db_); }

Status StateDb::Exec(std::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string why = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return MakeError(ErrorCode::kIo, "local state database: " + why);
  }
  return Status::Ok();
}

Result<Statement> StateDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return SqlError(db_, "prepare");
  }
  return Statement(db_, stmt);
}

Status StateDb::ApplySchema() {
  // A large page cache and fewer checkpoints: a cold replay inserts rows
  // in hash order (random), which a small cache turns into a read and a
  // write per page touched. Temporary data in memory: a table with triggers
  // (events) makes every INSERT keep a statement journal, which in a file
  // cost eight writes per inserted event (a cold replay spent a tenth of
  // its time in them).
  NB_RETURN_IF_ERROR(
      Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; "
           "PRAGMA temp_store=MEMORY; "
           "PRAGMA wal_autocheckpoint=8192; PRAGMA mmap_size=1073741824;"));
  NB_RETURN_IF_ERROR(Exec(kSchema));
  NB_ASSIGN_OR_RETURN(Statement get, Prepare("SELECT value FROM meta WHERE key='schema'"));
  NB_ASSIGN_OR_RETURN(bool has_row, get.Step());
  int version = has_row ? std::atoi(std::string(get.Text(0)).c_str()) : 0;
  if (has_row && version != kSchemaVersion) {
    return MakeError(ErrorCode::kUnsupported, "local state schema " + std::to_string(version));
  }
  if (!has_row) {
    NB_ASSIGN_OR_RETURN(Statement put, Prepare("INSERT INTO meta(key, value) VALUES('schema', ?)"));
    NB_RETURN_IF_ERROR(put.Bind(1, std::to_string(kSchemaVersion)).Run());
  }
  return Status::Ok();
}

StateDb::Transaction::Transaction(StateDb* db) : db_(db) {
  done_ = !db_->Exec("BEGIN IMMEDIATE").ok();
}

StateDb::Transaction::~Transaction() {
  if (!done_) (void)db_->Exec("ROLLBACK");
}

Status StateDb::Transaction::Commit() {
  if (done_) return MakeError(ErrorCode::kIo, "local state database: transaction not open");
  done_ = true;
  return db_->Exec("COMMIT");
}

}  // namespace nb::apps::state
