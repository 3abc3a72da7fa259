// The PostgreSQL offer store's cost per notification, without a broker: N notifications through
// PgOfferStore::Process from T threads (each Process waits for its group commit, as a
// vipservice's consumer threads do), against a server of `./dev postgres start`. Reports
// notifications/s, commits (from pg_stat_database), and the CPU time (user + system, from /proc)
// per notification of this process, of the store's backends and of the whole server (every
// child of the postmaster: backends, WAL writer, checkpointer, autovacuum).
//
//   PG_DIR=.run/pg ./dev postgres start
//   build/bench/bin/pg_offer_store_bench --url "$PG_URL" [--notifications 20000] [--threads 16]
//       [--instances 1] [--accounts 1] [--cooldown-ms 0] [--label NAME]
//
// The store's tables live in a schema of the run's own, dropped at the end. --instances K opens K
// stores (K write connections) and spreads the threads over them, as K vipservices sharing the
// server. --accounts A cycles the notifications over A accounts; with --cooldown-ms 0 (the
// default, as in bench/vip_sustained.sh) every notification is an offer.
// One line of results ("key=value ..."), so that runs of two builds are easy to interleave.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "pg_offer_store.hpp"

namespace {

using cppblog::vip::VipNotification;
using cppblog::vipservice::PgOfferStore;
using cppblog::vipservice::ProcessResult;
using std::chrono::steady_clock;
using std::chrono::system_clock;

struct Args {
  std::string url;
  std::size_t notifications = 20'000;
  std::size_t threads = 16;
  std::size_t instances = 1;
  std::size_t accounts = 1;
  std::int64_t cooldown_ms = 0;
  std::string label = "run";
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "pg_offer_store_bench: " << why
            << "\nusage: pg_offer_store_bench --url postgresql://... [--notifications N] "
               "[--threads T] [--instances K] [--accounts A] [--cooldown-ms C] [--label NAME]\n";
  std::exit(2);
}

std::size_t Positive(const std::string& name, const std::string& text) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value == 0) {
    Usage(name + " must be a positive integer, not '" + text + "'");
  }
  return value;
}

Args Parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) Usage(key + " needs a value");
    const std::string value = argv[++i];
    if (key == "--url") {
      args.url = value;
    } else if (key == "--notifications") {
      args.notifications = Positive(key, value);
    } else if (key == "--threads") {
      args.threads = Positive(key, value);
    } else if (key == "--instances") {
      args.instances = Positive(key, value);
    } else if (key == "--accounts") {
      args.accounts = Positive(key, value);
    } else if (key == "--cooldown-ms") {
      args.cooldown_ms = static_cast<std::int64_t>(Positive(key, value == "0" ? "1" : value));
      if (value == "0") args.cooldown_ms = 0;
    } else if (key == "--label") {
      args.label = value;
    } else {
      Usage("unknown option " + key);
    }
  }
  if (args.url.empty()) Usage("--url is required (PG_URL of .run/pg/pg.env)");
  if (args.instances > args.threads) Usage("--instances must not exceed --threads");
  return args;
}

/// A libpq connection of the driver's own (schema, statistics), apart from the stores'.
class Admin {
 public:
  explicit Admin(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      throw std::runtime_error(std::string("cannot connect to PostgreSQL: ") +
                               PQerrorMessage(conn_) + "; start it with ./dev postgres start");
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // DROP SCHEMA's NOTICE
  }
  ~Admin() { PQfinish(conn_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  /// Every row's first column.
  std::vector<std::string> Column(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      const std::string error = PQresultErrorMessage(result);
      PQclear(result);
      throw std::runtime_error("'" + sql + "' failed: " + error);
    }
    std::vector<std::string> values;
    for (int row = 0; row < PQntuples(result); ++row)
      values.emplace_back(PQgetvalue(result, row, 0));
    PQclear(result);
    return values;
  }

  std::int64_t Number(const std::string& sql) {
    const std::vector<std::string> values = Column(sql);
    if (values.empty()) throw std::runtime_error("'" + sql + "' returned no row");
    return std::stoll(values.front());
  }

 private:
  PGconn* conn_;
};

/// Fields of /proc/<pid>/stat after the command: [0] is the state, [1] ppid, [11] utime,
/// [12] stime (clock ticks).
std::vector<std::string> StatFields(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return {};
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

/// User + system CPU time of `pid`, or its system time only.
double CpuSeconds(int pid, bool system_only = false) {
  const std::vector<std::string> fields = StatFields(pid);
  if (fields.size() < 13) return 0;
  return static_cast<double>((system_only ? 0 : std::stoll(fields[11])) + std::stoll(fields[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// The postmaster and its children, which run on this machine (the server of ./dev postgres).
std::vector<int> ServerProcesses(int postmaster) {
  std::vector<int> pids{postmaster};
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    int pid = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (error != std::errc{} || end != name.data() + name.size()) continue;
    const std::vector<std::string> fields = StatFields(pid);
    if (fields.size() > 1 && fields[1] == std::to_string(postmaster)) pids.push_back(pid);
  }
  return pids;
}

double CpuOf(const std::vector<int>& pids, bool system_only = false) {
  double total = 0;
  for (const int pid : pids) total += CpuSeconds(pid, system_only);
  return total;
}

std::string WithParameters(const std::string& url, const std::string& parameters) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + parameters;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // not the schema's NOTICEs of every instance
  try {
    Admin admin(args.url);
    const std::string schema = "offer_bench_" + std::to_string(getpid());
    static_cast<void>(admin.Column("CREATE SCHEMA " + schema));
    // The stores' tables in the run's schema; their backends found by application_name.
    const std::string store_url = WithParameters(
        args.url, "options=-csearch_path%3D" + schema + "&application_name=" + schema);
    std::vector<std::unique_ptr<PgOfferStore>> stores;
    for (std::size_t i = 0; i < args.instances; ++i) {
      stores.push_back(std::make_unique<PgOfferStore>(PgOfferStore::Options{.url = store_url}));
    }
    const int backend = static_cast<int>(admin.Number("SELECT pg_backend_pid()"));
    const std::vector<std::string> fields = StatFields(backend);
    if (fields.size() < 2) throw std::runtime_error("the server is not on this machine (/proc)");
    const std::vector<int> server = ServerProcesses(std::stoi(fields[1]));
    std::vector<int> store_backends;
    for (const std::string& pid : admin.Column(
             "SELECT pid FROM pg_stat_activity WHERE application_name = '" + schema + "'")) {
      store_backends.push_back(std::stoi(pid));
    }
    const std::string commits_sql =
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";

    // Warm-up: connections, caches, the first plans; not counted.
    const auto t0 = system_clock::now();
    for (std::size_t i = 0; i < 200; ++i) {
      static_cast<void>(stores[i % stores.size()]->Process(
          "warm-" + std::to_string(i), VipNotification{.account_id = "warm", .read_at = t0}, t0,
          std::chrono::milliseconds{0}));
    }
    // An idle backend reports its statistics within a second (PostgreSQL 15).
    std::this_thread::sleep_for(std::chrono::milliseconds{1'200});
    static_cast<void>(admin.Column("SELECT pg_stat_force_next_flush()"));
    const std::int64_t commits_before = admin.Number(commits_sql);
    const double self_before = CpuSeconds(getpid());
    const double backends_before = CpuOf(store_backends);
    const double backends_sys_before = CpuOf(store_backends, true);
    const double server_before = CpuOf(server);

    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> offered{0};
    std::atomic<std::size_t> errors{0};
    const auto start = steady_clock::now();
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < args.threads; ++t) {
      threads.emplace_back([&, t] {
        PgOfferStore& store = *stores[t % stores.size()];
        for (std::size_t i = next++; i < args.notifications; i = next++) {
          const VipNotification notification{
              .account_id = "account-" + std::to_string(i % args.accounts),
              .read_at = t0 + std::chrono::milliseconds{static_cast<std::int64_t>(i)}};
          try {
            if (store.Process("message-" + std::to_string(i), notification, system_clock::now(),
                              std::chrono::milliseconds{args.cooldown_ms}) ==
                ProcessResult::kOffered) {
              ++offered;
            }
          } catch (const std::exception& e) {
            if (errors++ == 0) std::cerr << "pg_offer_store_bench: " << e.what() << "\n";
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    const double seconds = std::chrono::duration<double>(steady_clock::now() - start).count();
    const double self = CpuSeconds(getpid()) - self_before;
    const double backends = CpuOf(store_backends) - backends_before;
    const double backends_sys = CpuOf(store_backends, true) - backends_sys_before;
    const double whole = CpuOf(server) - server_before;
    std::this_thread::sleep_for(std::chrono::milliseconds{1'200});
    static_cast<void>(admin.Column("SELECT pg_stat_force_next_flush()"));
    const std::int64_t commits = admin.Number(commits_sql) - commits_before;
    static_cast<void>(admin.Column("DROP SCHEMA " + schema + " CASCADE"));

    const auto n = static_cast<double>(args.notifications);
    std::printf(
        "label=%s notifications=%zu threads=%zu instances=%zu accounts=%zu offered=%zu errors=%zu "
        "seconds=%.2f per_s=%.0f commits=%lld per_commit=%.1f client_us=%.1f backends_us=%.1f "
        "(sys %.1f) server_us=%.1f total_us=%.1f\n",
        args.label.c_str(), args.notifications, args.threads, args.instances, args.accounts,
        offered.load(), errors.load(), seconds, n / seconds, static_cast<long long>(commits),
        commits > 0 ? n / static_cast<double>(commits) : 0.0, self / n * 1e6, backends / n * 1e6,
        backends_sys / n * 1e6, whole / n * 1e6, (self + whole) / n * 1e6);
    return errors.load() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "pg_offer_store_bench: " << e.what() << "\n";
    return 1;
  }
}
