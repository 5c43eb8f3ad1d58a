// The files commands: put, mkdir, mv, rm, ls, get, export, history, conflicts.
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "apps/files/file_content.h"
#include "cli.h"
#include "engine/content_out.h"
#include "engine/files_edit.h"
#include "engine/files_listing.h"
#include "engine/files_session.h"
#include "engine/hub_paths.h"
#include "engine/put.h"
#include "progress.h"

namespace nb::cli {
namespace {

using apps::files::ContentRef;
using apps::files::FilesReading;
using engine::NormalizeHubPath;
using Json = nlohmann::ordered_json;

std::string FormatTime(int64_t ms) {
  time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm tm_local;
  localtime_r(&seconds, &tm_local);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm_local);
  return buf;
}

using engine::FilesSession;

// Opens the hub's files; says so when the hub is shared with the reference
// software and holds files it cannot read.
Result<FilesSession> OpenFiles(Context& ctx) {
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  NB_ASSIGN_OR_RETURN(FilesSession session, engine::OpenFiles(*hub));
  if (session.notice) std::cerr << "nearbytes: " << *session.notice << "\n";
  ctx.ReportIncidents();
  return session;
}

// ---- put ----

Result<int> Put(Context& ctx, const std::vector<std::string>& sources, const std::string& to) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(engine::PutPlan plan, engine::PlanPut(session.reading(), sources, to));
  ProgressLine progress("put", !ctx.options.quiet);
  NB_ASSIGN_OR_RETURN(engine::PutResult put, engine::StorePut(session, plan, &progress));
  for (const auto& skipped : plan.skipped) std::cerr << "nearbytes: skipped " << skipped << "\n";
  for (const auto& local : put.changed_while_reading) {
    std::cerr << "nearbytes: " << local << " changed while it was being read ("
              << apps::files::Ingestor::kReadAttempts
              << " tries); it was not put: put it again once nothing writes to it\n";
  }
  if (ctx.options.json) {
    Json items = Json::array();
    for (const auto& file : put.files) {
      Json entry{{"path", file.hub_path}, {"size", file.size}, {"unchanged", file.unchanged}};
      if (!file.unchanged) entry["event"] = file.event->Hex();
      items.push_back(std::move(entry));
    }
    PrintJson(Json{{"files", items},
                   {"changedWhileReading", put.changed_while_reading},
                   {"written", put.written},
                   {"unchanged", put.unchanged},
                   {"bytes", put.bytes},
                   {"newBlocks", put.new_blocks},
                   {"newBytes", put.new_bytes},
                   {"seconds", put.seconds}});
  } else if (!ctx.options.quiet) {
    std::cout << "put " << put.written << " file(s)";
    if (put.unchanged > 0) std::cout << " (" << put.unchanged << " unchanged)";
    std::cout << ", " << HumanBytes(put.bytes) << " in " << HumanDuration(put.seconds);
    if (put.seconds > 0) {
      std::cout << " (" << HumanRate(static_cast<double>(put.bytes) / put.seconds) << ")";
    }
    std::cout << "; stored " << put.new_blocks << " new block(s), " << HumanBytes(put.new_bytes)
              << "\n";
  }
  return put.changed_while_reading.empty() ? 0 : 1;
}

// ---- simple edits ----

Result<int> Mkdir(Context& ctx, const std::string& path, bool parents) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(std::optional<engine::PathEvent> made,
                      engine::MakeDirectory(session, path, parents));
  if (made && ctx.options.json) PrintJson(Json{{"path", made->path}, {"event", made->event.Hex()}});
  return 0;
}

Result<int> Move(Context& ctx, const std::string& from, const std::string& to) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(engine::Move moved, engine::MovePath(session, from, to));
  if (ctx.options.json) {
    PrintJson(Json{{"from", moved.from}, {"to", moved.to}, {"event", moved.event.Hex()}});
  }
  return 0;
}

Result<int> Remove(Context& ctx, const std::vector<std::string>& paths, bool recursive) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(std::vector<engine::PathEvent> removed,
                      engine::RemovePaths(session, paths, recursive));
  Json events = Json::array();
  for (const auto& r : removed) events.push_back(Json{{"path", r.path}, {"event", r.event.Hex()}});
  if (ctx.options.json) PrintJson(events);
  return 0;
}

// ---- ls ----

Result<int> List(Context& ctx, const std::string& raw, bool recursive, const std::string& at) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(engine::Listing listing, engine::ListFiles(session, raw, recursive, at));
  ctx.ReportIncidents();
  const std::string& base = listing.base;
  if (ctx.options.json) {
    Json out = Json::array();
    for (const auto& e : listing.entries) {
      Json item{{"path", e.path}, {"type", e.dir ? "directory" : "file"}};
      if (e.dir) {
        item["explicit"] = e.explicit_dir;
      } else {
        item["size"] = e.size;
        item["modified"] = e.modified;
        item["content"] = e.file->content.hash.Hex();
        item["chunked"] = e.file->content.kind == ContentRef::Kind::kManifest;
        item["origin"] = e.file->origin_event.Hex();
        if (e.file->mime_type) item["mimeType"] = *e.file->mime_type;
        item["complete"] = e.missing_blocks == 0;
        if (e.missing_blocks > 0) item["missingBlocks"] = e.missing_blocks;
      }
      item["conflict"] = e.conflict;
      out.push_back(std::move(item));
    }
    PrintJson(out);
    return 0;
  }
  size_t incomplete = 0;
  for (const auto& e : listing.entries) {
    // A single file is shown by its full path; entries of a directory
    // relative to it, unless the listing is recursive.
    std::string name =
        (listing.one_file || recursive || base.empty()) ? e.path : e.path.substr(base.size() + 1);
    char line[64];
    if (e.dir) {
      std::snprintf(line, sizeof(line), "%-4s %10s  %16s  ", "dir", "-", "");
      name += "/";
    } else {
      std::snprintf(line, sizeof(line), "%-4s %10s  %16s  ", "file", HumanBytes(e.size).c_str(),
                    FormatTime(e.modified).c_str());
    }
    std::cout << line << TerminalText(name) << (e.conflict ? "   [conflict]" : "");
    if (e.missing_blocks > 0) {
      std::cout << "   [content missing here]";
      ++incomplete;
    }
    std::cout << "\n";
  }
  if (incomplete > 0) {
    std::cerr << "nearbytes: " << incomplete
              << " file(s) cannot be read here: their content is missing or was damaged; "
                 "`nearbytes sync` with a device that has it repairs them\n";
  }
  return 0;
}

// ---- find / du ----

Result<int> Find(Context& ctx, const std::string& pattern, const std::string& base) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(std::vector<engine::FoundPath> found,
                      engine::FindFiles(session.reading(), pattern, base));
  if (ctx.options.json) {
    Json out = Json::array();
    for (const auto& f : found) {
      Json item{{"path", f.path}, {"type", f.dir ? "directory" : "file"}};
      if (!f.dir) {
        item["modified"] = f.modified;
        item["origin"] = f.origin_event.Hex();
      }
      out.push_back(std::move(item));
    }
    PrintJson(out);
  } else {
    for (const auto& f : found) std::cout << TerminalText(f.path) << (f.dir ? "/" : "") << "\n";
  }
  return found.empty() ? 1 : 0;
}

Result<int> DiskUsage(Context& ctx, const std::string& raw) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(engine::DiskUsageReport du, engine::DiskUsage(session, raw));
  ctx.ReportIncidents();
  if (ctx.options.json) {
    Json items = Json::array();
    for (const auto& [path, usage] : du.children) {
      items.push_back(Json{{"path", path},
                           {"type", usage.dir ? "directory" : "file"},
                           {"bytes", usage.bytes},
                           {"files", usage.files}});
    }
    PrintJson(Json{{"path", du.base},
                   {"bytes", du.total.bytes},
                   {"files", du.total.files},
                   {"unknownSizes", du.unknown},
                   {"children", items}});
    return 0;
  }
  for (const auto& [path, usage] : du.children) {
    char line[48];
    std::snprintf(line, sizeof(line), "%10s  %8zu  ", HumanBytes(usage.bytes).c_str(), usage.files);
    std::cout << line << TerminalText(path) << (usage.dir ? "/" : "") << "\n";
  }
  char line[48];
  std::snprintf(line, sizeof(line), "%10s  %8zu  ", HumanBytes(du.total.bytes).c_str(),
                du.total.files);
  std::cout << line << "total" << (du.base.empty() ? "" : " of " + TerminalText(du.base)) << "\n";
  if (du.unknown > 0) {
    std::cerr << "nearbytes: " << du.unknown
              << " file(s) have content missing here; their size is not counted\n";
  }
  return 0;
}

// ---- get / export ----

Result<int> Get(Context& ctx, const engine::GetOptions& options) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  if (options.local == "-") {
    NB_ASSIGN_OR_RETURN(
        std::vector<engine::FileEntry> entries,
        engine::FilesToRead(session.reading(), {NormalizeHubPath(options.path)}, options.version));
    NB_RETURN_IF_ERROR(engine::WriteContentToFd(session.hub->store(),
                                                session.hub->keys().symmetric_key(),
                                                entries.front(), STDOUT_FILENO, "standard output"));
    return 0;
  }
  ProgressLine progress("get", !ctx.options.quiet);
  auto got = engine::GetFile(session, options, &progress);
  ctx.ReportIncidents();
  if (!got.ok()) return got.error();
  if (got->unchanged) {
    if (ctx.options.json) {
      PrintJson(Json{{"path", got->path}, {"file", got->target.string()}, {"unchanged", true}});
    } else if (!ctx.options.quiet) {
      std::cout << got->target.string() << " is already up to date\n";
    }
    return 0;
  }
  if (ctx.options.json) {
    PrintJson(Json{{"path", got->path}, {"file", got->target.string()}, {"size", got->size}});
  } else if (!ctx.options.quiet) {
    std::cout << "wrote " << got->target.string() << " (" << HumanBytes(got->size) << ") in "
              << HumanDuration(progress.ElapsedSeconds()) << "\n";
  }
  return 0;
}

Result<int> Cat(Context& ctx, const std::vector<std::string>& paths, const std::string& version) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(std::vector<engine::FileEntry> entries,
                      engine::FilesToRead(session.reading(), paths, version));
  for (const auto& entry : entries) {
    Status written =
        engine::WriteContentToFd(session.hub->store(), session.hub->keys().symmetric_key(), entry,
                                 STDOUT_FILENO, "standard output");
    ctx.ReportIncidents();
    NB_RETURN_IF_ERROR(written);
  }
  return 0;
}

Result<int> Export(Context& ctx, const engine::ExportOptions& options) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  ProgressLine progress("export", !ctx.options.quiet);
  auto exported = engine::ExportTree(session, options, &progress);
  ctx.ReportIncidents();
  if (!exported.ok()) return exported.error();
  const engine::ExportResult& r = *exported;
  if (ctx.options.json) {
    PrintJson(Json{{"files", r.files},
                   {"written", r.written},
                   {"unchanged", r.unchanged},
                   {"skipped", r.skipped},
                   {"bytes", r.bytes},
                   {"to", r.to.string()}});
  } else {
    for (const auto& line : r.skipped) std::cerr << "nearbytes: skipped " << line << "\n";
    if (!ctx.options.quiet) {
      std::cout << "exported " << r.written << " file(s)";
      if (r.unchanged > 0) std::cout << " (" << r.unchanged << " already up to date)";
      std::cout << ", " << HumanBytes(r.bytes) << " to " << r.to.string() << " in "
                << HumanDuration(progress.ElapsedSeconds());
      if (!r.at_label.empty()) std::cout << ", as of " << r.at_label;
      std::cout << "\n";
    }
  }
  if (!r.skipped.empty()) {
    return MakeError(ErrorCode::kIo,
                     std::to_string(r.skipped.size()) + " file(s) not exported" +
                         (r.differing > 0 ? " (" + std::to_string(r.differing) +
                                                " differ locally: --force overwrites them)"
                                          : ""));
  }
  return 0;
}

// ---- restore ----

Result<int> Restore(Context& ctx, const std::string& path, const std::string& at) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(engine::RestoreResult r, engine::RestorePath(session, path, at));
  if (ctx.options.json) {
    PrintJson(Json{{"path", r.path}, {"restored", r.restored}, {"unchanged", r.unchanged}});
  } else if (!ctx.options.quiet) {
    std::cout << "restored " << r.restored << " file(s) of " << TerminalText(r.path)
              << " as they were " << r.when;
    if (r.unchanged > 0) std::cout << " (" << r.unchanged << " already as then)";
    std::cout << "\n";
  }
  for (const auto& file_path : r.incomplete) {
    std::cerr << "nearbytes: warning: " << TerminalText(file_path)
              << " is back, but its content is not on this device; a sync with one that has "
                 "it makes it readable\n";
  }
  return 0;
}

// ---- history / conflicts ----

Result<int> History(Context& ctx, const std::string& raw) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  NB_ASSIGN_OR_RETURN(std::vector<engine::PathVersion> versions, engine::PathHistory(session, raw));
  std::string path = NormalizeHubPath(raw);
  Json out = Json::array();
  for (const auto& v : versions) {
    Json item{{"event", v.event.Hex()}, {"type", v.type}, {"time", v.time}, {"path", v.path}};
    if (v.type == "RENAME") item["toPath"] = v.to_path;
    if (v.content) {
      if (v.size) item["size"] = *v.size;
      item["content"] = v.content->Hex();
      item["live"] = v.live;
    }
    out.push_back(std::move(item));
  }
  if (ctx.options.json) {
    PrintJson(Json{{"path", path}, {"versions", out}});
    return 0;
  }
  for (const auto& item : out) {
    std::cout << item["event"].get<std::string>().substr(0, 16) << "  "
              << FormatTime(item["time"].get<int64_t>()) << "  " << std::left;
    std::string type = item["type"].get<std::string>();
    std::cout << type << std::string(12 - std::min<size_t>(type.size(), 11), ' ');
    if (item.contains("size")) {
      std::cout << HumanBytes(item["size"].get<uint64_t>());
      if (item["live"].get<bool>()) std::cout << "  (live)";
    } else if (type == "RENAME") {
      std::cout << TerminalText(item["path"].get<std::string>()) << " -> "
                << TerminalText(item["toPath"].get<std::string>());
    }
    std::cout << "\n";
  }
  std::cout << "restore a version: nearbytes get --version EVENT " << path << " [LOCAL]\n";
  return 0;
}

Result<int> Conflicts(Context& ctx) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  const FilesReading& reading = session.writer->reading();
  Json out = Json::array();
  for (const auto& c : reading.conflicts()) {
    Json others = Json::array();
    for (const auto& h : c.other_events) others.push_back(h.Hex());
    out.push_back(Json{{"path", c.path}, {"live", c.live_event.Hex()}, {"others", others}});
  }
  if (ctx.options.json) {
    PrintJson(out);
    return 0;
  }
  if (reading.conflicts().empty()) {
    std::cout << "no conflicts\n";
    return 0;
  }
  for (const auto& c : reading.conflicts()) {
    std::cout << TerminalText(c.path) << "\n  live   " << c.live_event.Hex() << "\n";
    for (const auto& h : c.other_events) std::cout << "  other  " << h.Hex() << "\n";
  }
  std::cout << "read another version with: nearbytes get --version EVENT PATH [LOCAL]\n"
               "resolve by putting the version you want: nearbytes put FILE --to PATH\n";
  return 0;
}

}  // namespace

void RegisterFilesCommands(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> sources, paths;
    std::string to, from, target, path, local, version, at, pattern;
    bool recursive = false, parents = false, force = false;
    engine::ExportOptions exp;
    std::string exp_local;
  };
  auto args = std::make_shared<Args>();

  auto* put = app.add_subcommand("put",
                                 "Add files or whole directories to the hub "
                                 "(encrypted, deduplicated, versioned)");
  put->add_option("sources", args->sources, "Local files or directories; - reads stdin")
      ->required();
  put->add_option("--to", args->to,
                  "Hub directory to put them in (or the file name for one "
                  "file); default: the root");
  put->footer(
      "Examples:\n  nearbytes put photos/            # -> photos/... in the hub\n"
      "  nearbytes put report.pdf --to work/\n"
      "  nearbytes put draft.txt --to notes/final.txt   # one file under a new name\n"
      "  pg_dump db | nearbytes put - --to backups/db.sql");
  SetCommand(put, [&ctx, args] { return Put(ctx, args->sources, args->to); });

  auto* mkdir = app.add_subcommand("mkdir", "Create a directory in the hub");
  mkdir->add_option("path", args->path, "Hub path")->required();
  mkdir->add_flag("-p,--parents", args->parents, "No error if it exists");
  mkdir->footer("Examples:\n  nearbytes mkdir photos/2026\n  nearbytes mkdir -p archive");
  SetCommand(mkdir, [&ctx, args] { return Mkdir(ctx, args->path, args->parents); });

  auto* mv = app.add_subcommand("mv", "Move or rename a file or directory in the hub");
  mv->add_option("from", args->from, "Hub path to move")->required();
  mv->add_option("to", args->target, "New hub path (or an existing directory to move into)")
      ->required();
  mv->footer(
      "Examples:\n  nearbytes mv notes.txt notes-2026.txt\n"
      "  nearbytes mv photos/cat.jpg pets/      # into an existing directory");
  SetCommand(mv, [&ctx, args] { return Move(ctx, args->from, args->target); });

  auto* rm = app.add_subcommand("rm",
                                "Remove files or directories from the hub (old versions "
                                "stay in history)");
  rm->add_option("paths", args->paths, "Hub paths")->required();
  rm->add_flag("-r,--recursive", args->recursive, "Remove directories and their contents");
  rm->footer(
      "Examples:\n  nearbytes rm old.txt\n  nearbytes rm -r drafts\n"
      "  nearbytes restore drafts              # brings it back");
  SetCommand(rm, [&ctx, args] { return Remove(ctx, args->paths, args->recursive); });

  auto* ls = app.add_subcommand("ls",
                                "List the hub's files: type, size, modified time, "
                                "conflict and missing-content markers");
  ls->add_option("path", args->path, "Hub directory or file (default: the root)");
  ls->add_flag("-r,--recursive", args->recursive, "List the whole subtree");
  ls->add_option("--at", args->at,
                 "Show the hub as it was: an event id (or unique prefix), a date "
                 "(2026-11-25 14:30) or an age (2h, 3d)")
      ->type_name("EVENT|TIME");
  ls->footer(
      "Examples:\n  nearbytes ls\n  nearbytes ls -r photos\n"
      "  nearbytes ls -r --at 2026-11-01      # the hub as it was then\n"
      "  nearbytes --json ls -r | jq '.[] | select(.complete == false)'");
  SetCommand(ls, [&ctx, args] { return List(ctx, args->path, args->recursive, args->at); });

  auto* find = app.add_subcommand("find",
                                  "Find files and directories by name: a glob (*.pdf) or "
                                  "a piece of the path (exit 1 if nothing matches)");
  find->add_option("pattern", args->pattern, "Glob or substring (case ignored)")->required();
  find->add_option("path", args->path, "Hub directory to search (default: everywhere)");
  find->footer(
      "Examples:\n  nearbytes find '*.pdf'\n  nearbytes find invoice work\n"
      "  nearbytes --json find 'photos/2026/*'");
  SetCommand(find, [&ctx, args] { return Find(ctx, args->pattern, args->path); });

  auto* du = app.add_subcommand("du", "How much the live files take, per entry and in total");
  du->add_option("path", args->path, "Hub directory or file (default: the root)");
  du->footer("Examples:\n  nearbytes du\n  nearbytes du photos");
  SetCommand(du, [&ctx, args] { return DiskUsage(ctx, args->path); });

  auto* cat = app.add_subcommand("cat", "Write files' content to standard output");
  cat->add_option("paths", args->paths, "Hub files")->required();
  cat->add_option("--version", args->version,
                  "An older version of the file: its event id or a unique prefix (see history)");
  cat->footer(
      "Examples:\n  nearbytes cat notes/todo.txt\n"
      "  nearbytes cat --version 3f2a9c notes/todo.txt | diff - todo.txt");
  SetCommand(cat, [&ctx, args] { return Cat(ctx, args->paths, args->version); });

  auto* get = app.add_subcommand("get",
                                 "Copy a file out of the hub (verified, written "
                                 "atomically; never overwrites a different file without --force)");
  get->add_option("path", args->path, "Hub file")->required();
  get->add_option("local", args->local,
                  "Local file or directory; - for stdout "
                  "(default: the file's name here)");
  get->add_option("--version", args->version,
                  "An older version: its event id or a unique prefix (see history)");
  get->add_flag("-f,--force,--overwrite", args->force,
                "Replace a local file whose content differs");
  get->footer(
      "Examples:\n  nearbytes get photos/cat.jpg\n  nearbytes get report.pdf ~/Desktop/\n"
      "  nearbytes get --version 3f2a9c report.pdf old.pdf");
  SetCommand(get, [&ctx, args] {
    return Get(ctx, engine::GetOptions{args->path, args->local, args->version, args->force});
  });

  auto* exp = app.add_subcommand("export",
                                 "Copy a hub directory (or the whole hub) to a "
                                 "local directory");
  exp->add_option("path", args->exp.path, "Hub directory; \"\" or / for everything")->required();
  exp->add_option("local", args->exp_local, "Local directory")->required();
  exp->add_flag("-f,--force,--overwrite", args->exp.force,
                "Replace local files whose content differs (default: skip and list them)");
  exp->add_option("--at", args->exp.at,
                  "Export the tree as it was: an event id, a date or an age (2h, 3d)")
      ->type_name("EVENT|TIME");
  exp->footer(
      "Files already identical locally are left alone; files that differ are skipped and\n"
      "listed (exit 1) unless --force; a file that cannot be written is skipped and the\n"
      "export goes on.\n\n"
      "Examples:\n  nearbytes export / ~/hub-copy\n  nearbytes export photos ~/Pictures/hub\n"
      "  nearbytes export / ~/hub-last-week --at 7d");
  SetCommand(exp, [&ctx, args] {
    args->exp.local = args->exp_local;
    return Export(ctx, args->exp);
  });

  auto* restore = app.add_subcommand("restore",
                                     "Bring back a deleted file or folder, or an older "
                                     "state of one (a new version; history is kept)");
  restore->add_option("path", args->path, "Hub file or directory")->required();
  restore
      ->add_option("--at", args->at,
                   "The state to bring back: an event id, a date or an age (default: just "
                   "before it was last removed)")
      ->type_name("EVENT|TIME");
  restore->footer(
      "Examples:\n  nearbytes restore drafts                   # undo rm -r drafts\n"
      "  nearbytes restore notes.txt --at 2026-11-20\n"
      "  nearbytes restore photos --at 3f2a9c1d       # as of that event");
  SetCommand(restore, [&ctx, args] { return Restore(ctx, args->path, args->at); });

  auto* history = app.add_subcommand("history",
                                     "Every version of a path with its event id, "
                                     "time and size");
  history->add_option("path", args->path, "Hub path")->required();
  history->footer(
      "Examples:\n  nearbytes history notes.txt\n"
      "  nearbytes get --version <id from history> notes.txt old.txt");
  SetCommand(history, [&ctx, args] { return History(ctx, args->path); });

  auto* conflicts = app.add_subcommand("conflicts",
                                       "Paths two writers changed without seeing each "
                                       "other, with the live and the other versions");
  conflicts->footer(
      "Examples:\n  nearbytes conflicts\n"
      "  nearbytes get --version <other id> notes.txt theirs.txt   # look at the other one\n"
      "  nearbytes put theirs.txt --to notes.txt                   # keep it: resolves");
  SetCommand(conflicts, [&ctx] { return Conflicts(ctx); });
}

}  // namespace nb::cli
