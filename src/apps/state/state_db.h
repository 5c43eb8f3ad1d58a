// The derived local state of a store (FORMAT.md §7): one SQLite database in
// WAL mode under <primary root>/.nearbytes/. Everything in it is rebuilt by
// replay when it is deleted or unreadable, so an error opening it is never
// fatal to the caller: it is moved aside and started afresh.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace nb::apps::state {

// A prepared statement; RAII over sqlite3_stmt. Bind indexes start at 1,
// column indexes at 0, as in SQLite.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&& other) noexcept {
    if (this != &other) {
      sqlite3_finalize(stmt_);
      db_ = other.db_;
      stmt_ = other.stmt_;
      other.stmt_ = nullptr;
    }
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, ByteSpan blob);
  Statement& BindNull(int index);
  // Steps once: true while a row is available, false when done.
  Result<bool> Step();
  // Steps to completion (for statements without rows) and resets.
  Status Run();
  void Reset();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string_view Text(int column) const;
  ByteSpan Blob(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class StateDb {
 public:
  // Opens (creating if needed) the database file and applies the schema.
  // A corrupt or foreign file is renamed to <file>.broken and recreated.
  static Result<std::unique_ptr<StateDb>> Open(const std::filesystem::path& file);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  sqlite3* raw() { return db_; }

  // A write transaction; rolled back unless Commit() is called.
  class Transaction {
   public:
    explicit Transaction(StateDb* db);
    ~Transaction();
    Status Commit();

   private:
    StateDb* db_;
    bool done_ = false;
  };

 private:
  explicit StateDb(sqlite3* db) : db_(db) {}
  Status ApplySchema();
  sqlite3* db_;
};

}  // namespace nb::apps::state
