#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/inbox/pg_inbox.hpp"

#include "group_commit.hpp"
#include "offer_store.hpp"

namespace cppblog::vipservice {

class PgConnection;
struct PgTarget;

/// The vipservice's offer store shared by any number of instances on any hosts: two tables in a
/// PostgreSQL database, reached with libpq (docs/decisions/0010). `vip_processed`, the inbox
/// (inbox::PgInbox), holds every processed message id with its processing time and whether it
/// yielded an offer, `vip_offers` the offers (with the trace id of
/// the message, NULL when it had none). The schema is created or migrated when the store opens,
/// under an advisory lock, so instances starting together create or migrate it once.
///
/// Process takes a transaction-scoped advisory lock per account before it checks the cooldown,
/// so the offer rule holds across instances; the message id's primary key makes a redelivery
/// (to any instance) a duplicate. Concurrent Process calls share one transaction and one round
/// trip (group commit, pipelined), each request applied by a statement of its own; the
/// statements are prepared once per connection.
///
/// The store keeps two connections (one for Process, one for reads). When a connection is lost
/// the call fails with StoreError and the next call reconnects, no sooner than a backoff
/// (0.1 s doubling to 5 s) after the last failed attempt; it never throws anything else for a
/// server that is down or restarting.
///
/// Thread-safe: any number of threads may call any member at once. Not copyable or movable.
class PgOfferStore final : public OfferStore {
 public:
  struct Options {
    /// postgresql://user:password@host:port/database (any libpq URI).
    std::string url;
    /// Replaces the URL's password when set (read from a file by the caller).
    std::optional<std::string> password{};
    /// libpq's connect_timeout.
    std::chrono::seconds connect_timeout{5};
  };

  /// Connects and creates or migrates the schema. Throws StoreError naming the setting
  /// offer_store_url, the host and what to do; never the password.
  explicit PgOfferStore(Options options);
  ~PgOfferStore() override;
  PgOfferStore(const PgOfferStore&) = delete;
  PgOfferStore& operator=(const PgOfferStore&) = delete;

  [[nodiscard]] std::vector<Offer> OffersFor(std::string_view account_id) const override;
  /// A round trip on the read connection (reconnecting when due). Throws StoreError.
  void Ping() const override;
  /// The inbox's (PgInbox::DeleteProcessedBefore): chunks of 10,000 ids, a transaction each.
  std::size_t DeleteProcessedBefore(std::chrono::system_clock::time_point cutoff) override;
  [[nodiscard]] std::string Describe() const override { return "PostgreSQL " + display_url_; }

  /// The schema version this code creates and reads. Version 2 added vip_offers.trace_id.
  static constexpr int kSchemaVersion = 2;

 private:
  // Process (OfferStore): the group commit, with CommitQueued.
  ProcessResult ProcessTraced(std::string_view message_id, const vip::VipNotification& notification,
                              std::chrono::system_clock::time_point offered_at,
                              std::chrono::milliseconds cooldown,
                              std::string_view trace_id) override;
  // The leader's commit: every request queued by the time it has the write connection, in one
  // pipelined transaction; returns them (each with its result or error).
  std::vector<OfferRequest*> CommitQueued() noexcept;

  inbox::PgInbox inbox_;     // vip_processed
  std::string process_sql_;  // the offer rule's statement (prepared on the write connection)
  std::unique_ptr<const PgTarget> target_;  // what the connections connect to
  std::string display_url_;                 // the URL with its password masked
  std::unique_ptr<PgConnection> writer_;    // used by the group commit's leader only
  mutable std::mutex reader_mutex_;
  std::unique_ptr<PgConnection> reader_;  // reads, Ping and retention, under reader_mutex_

  GroupCommit group_commit_;
};

}  // namespace cppblog::vipservice
