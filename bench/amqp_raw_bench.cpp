// The reference for what the broker can take on this machine: the plainest rabbitmq-c loops
// that do the same work as cppblog's AmqpClient (persistent publishes with pipelined confirms;
// consumes with manual acks at a given prefetch). No cppblog code, on purpose.
//
//   amqp_raw_bench publish  --url URL --queue Q --count N [--window 1000]
//   amqp_raw_bench consume  --url URL --queue Q --count N --prefetch P
//   amqp_raw_bench pipeline --url URL [--consume-url URL2] --queue Q --count N --prefetch P
//                           [--window 1000] [--queue-type classic|quorum] [--body-bytes B]
//   amqp_raw_bench delete   --url URL --queue Q       (deletes Q and Q.dlq, if present)
//
// pipeline runs a publisher (on --url) and a consumer (on --consume-url, else --url) at once on
// one durable queue, each on a connection and a thread of its own: the consumer subscribes
// first, then the publisher sends N persistent messages with confirms (each with a 32-character
// message id and a body of B bytes, as a VIP notification has); timed from the first publish to
// the consumer's ack of the Nth message. The broker's capacity for the VIP flow's messages,
// end to end.
//
// Each mode but delete prints one line, e.g. `raw publish 100000 msgs 3.41 s 29300 msg/s
// 0.52 cpu-s` (the process's CPU time last); errors go to stderr with exit status 1.

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#endif
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/time.h>

#include "amqp_bench_common.hpp"

namespace cppblog::bench {
namespace {

constexpr amqp_channel_t kChannel = 1;
constexpr int kHeartbeatSeconds = 10;  // the AmqpClient default
constexpr std::chrono::seconds kIdleLimit{30};

using Clock = std::chrono::steady_clock;

/// When a loop's first and last message went through.
struct Span {
  Clock::time_point start;
  Clock::time_point end;
  [[nodiscard]] double Seconds() const {
    return std::chrono::duration<double>(end - start).count();
  }
};

/// What a publish loop sends: JsonBody's 120 bytes without a message id (publish mode, as
/// amqp_client_bench), or a body of `body_bytes` and a message id (pipeline: a VIP notification).
struct Messages {
  std::uint32_t body_bytes = 0;  // 0: JsonBody
  bool with_message_id = false;
};

/// `{"accountId":"<seq>","readAt":"xxx…"}` of exactly `size` bytes (or the shortest such body,
/// if `size` is smaller): the shape and size of a VIP notification, different for each message.
std::string VipLikeBody(std::uint64_t seq, std::size_t size) {
  std::string body = R"({"accountId":")" + std::to_string(seq) + R"(","readAt":")";
  const std::size_t tail = 2;  // closing quote and brace
  if (body.size() + tail < size) body.append(size - tail - body.size(), 'x');
  body += "\"}";
  return body;
}

/// 32 hex digits, as the accountservice's message ids.
std::string MessageId(std::uint64_t seq) {
  char text[33];
  std::snprintf(text, sizeof text, "%032llx", static_cast<unsigned long long>(seq));
  return text;
}

amqp_bytes_t Bytes(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

void CheckStatus(int status, const char* what) {
  if (status < 0) {
    throw std::runtime_error(std::string(what) + ": " + amqp_error_string2(status));
  }
}

void CheckReply(const amqp_rpc_reply_t& reply, const char* what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      throw std::runtime_error(std::string(what) + ": no reply from the broker");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      throw std::runtime_error(std::string(what) + ": " + amqp_error_string2(reply.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        throw std::runtime_error(
            std::string(what) + ": " +
            std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len));
      }
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        throw std::runtime_error(
            std::string(what) + ": " +
            std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len));
      }
      throw std::runtime_error(std::string(what) + ": server exception");
  }
}

/// One connection with channel 1 open; closed by the destructor.
class Connection {
 public:
  explicit Connection(const std::string& url) : conn_(amqp_new_connection()) {
    std::vector<char> buffer(url.begin(), url.end());  // amqp_parse_url writes into its input
    buffer.push_back('\0');
    amqp_connection_info info{};
    amqp_default_connection_info(&info);
    if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
      amqp_destroy_connection(conn_);
      throw std::runtime_error("--url is not an amqp:// URL (amqp://user:pass@host:port/vhost)");
    }
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr) {
      amqp_destroy_connection(conn_);
      throw std::runtime_error("cannot create a TCP socket");
    }
    timeval timeout{5, 0};
    const int status = amqp_socket_open_noblock(socket, info.host, info.port, &timeout);
    if (status != AMQP_STATUS_OK) {
      amqp_destroy_connection(conn_);
      throw std::runtime_error(std::string("connect to ") + info.host + ":" +
                               std::to_string(info.port) + ": " + amqp_error_string2(status) +
                               " (is the broker running?)");
    }
    const amqp_rpc_reply_t login =
        amqp_login(conn_, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, kHeartbeatSeconds,
                   AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
      amqp_destroy_connection(conn_);
      throw std::runtime_error(std::string("log in to ") + info.host + " as '" + info.user +
                               "' failed (check user and password in --url)");
    }
    amqp_channel_open(conn_, kChannel);
    CheckReply(amqp_get_rpc_reply(conn_), "open channel");
  }

  ~Connection() {
    amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] amqp_connection_state_t get() const { return conn_; }

  /// A durable queue, as AmqpClient declares a QueueSpec{.name = queue} (with `x-queue-type`
  /// when `type` is quorum, as a QueueSpec of QueueType::kQuorum).
  void DeclareDurableQueue(const std::string& queue, const std::string& type) {
    amqp_table_entry_t entry{};
    amqp_table_t arguments = amqp_empty_table;
    if (type == "quorum") {
      entry.key = amqp_cstring_bytes("x-queue-type");
      entry.value.kind = AMQP_FIELD_KIND_UTF8;
      entry.value.value.bytes = amqp_cstring_bytes("quorum");
      arguments = amqp_table_t{1, &entry};
    }
    amqp_queue_declare(conn_, kChannel, Bytes(queue), 0, 1, 0, 0, arguments);
    CheckReply(amqp_get_rpc_reply(conn_), "declare queue");
  }

 private:
  amqp_connection_state_t conn_;
};

/// Publishes `count` persistent messages to `queue` through the default exchange with at
/// most `window` unconfirmed; returns when the first was sent and the last confirmed.
Span Publish(const Args& args, const Messages& messages) {
  const std::string& queue = args.queue;
  const std::uint32_t count = args.count;
  const std::uint32_t window = args.window;
  Connection connection{args.url};
  amqp_connection_state_t conn = connection.get();
  connection.DeclareDurableQueue(queue, args.queue_type);
  amqp_confirm_select(conn, kChannel);
  CheckReply(amqp_get_rpc_reply(conn), "confirm.select");

  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = 2;  // persistent

  // Delivery tags count from 1 on the channel; acked[tag] records each confirm once.
  std::vector<bool> acked(static_cast<std::size_t>(count) + 1, false);
  std::uint64_t lowest_unacked = 1;
  std::uint64_t confirmed = 0;
  std::uint64_t nacked = 0;
  std::uint64_t sent = 0;
  auto settle = [&](std::uint64_t tag, bool multiple, bool ack) {
    const std::uint64_t first = multiple ? lowest_unacked : tag;
    for (std::uint64_t t = first; t <= tag && t <= count; ++t) {
      if (acked[t]) continue;
      acked[t] = true;
      ++confirmed;
      if (!ack) ++nacked;
    }
    while (lowest_unacked <= count && acked[lowest_unacked]) ++lowest_unacked;
  };
  // Reads one frame within `timeout` (zero: only what has arrived); false if none came.
  auto read_frame = [&](timeval timeout) {
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame_noblock(conn, &frame, &timeout);
    if (status == AMQP_STATUS_TIMEOUT) return false;
    CheckStatus(status, "wait for publisher confirms");
    if (frame.frame_type != AMQP_FRAME_METHOD) return true;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* m = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        settle(m->delivery_tag, m->multiple != 0, true);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* m = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
        settle(m->delivery_tag, m->multiple != 0, false);
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        throw std::runtime_error("the broker closed the channel while publishing");
      default:
        break;  // basic.return cannot happen: not mandatory
    }
    return true;
  };

  const auto start = Clock::now();
  auto last_progress = start;
  while (confirmed < count) {
    if (sent < count && sent - confirmed < window) {
      const std::string body = messages.body_bytes == 0
                                   ? JsonBody(sent + 1)
                                   : VipLikeBody(sent + 1, messages.body_bytes);
      std::string message_id;
      if (messages.with_message_id) {
        message_id = MessageId(sent + 1);
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = Bytes(message_id);
      }
      CheckStatus(amqp_basic_publish(conn, kChannel, amqp_empty_bytes, Bytes(queue), 0, 0, &props,
                                     Bytes(body)),
                  "basic.publish");
      ++sent;
      // Take whatever confirms have already arrived, without blocking.
      while (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn)) {
        if (!read_frame(timeval{0, 0})) break;
      }
      if (sent % 1000 == 0) amqp_maybe_release_buffers(conn);
      continue;
    }
    // The window is full (or all are sent): block for the next confirm.
    if (read_frame(timeval{1, 0})) {
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > kIdleLimit) {
      throw std::runtime_error("no publisher confirm for 30 s");
    }
  }
  const Span span{start, Clock::now()};
  if (nacked > 0) {
    throw std::runtime_error(std::to_string(nacked) + " of " + std::to_string(count) +
                             " publishes were nacked by the broker");
  }
  return span;
}

/// Consumes `count` messages from `queue` (on `url`) with basic.qos `prefetch` and one
/// basic.ack per message; returns when the first was delivered and the last acked. `ready`,
/// if given, is called once the consumer is registered; `abandon`, if given and set, ends the
/// wait with an error.
Span Consume(const Args& args, const std::string& url, const std::function<void()>& ready = {},
             const std::atomic<bool>* abandon = nullptr) {
  const std::string& queue = args.queue;
  const std::uint32_t count = args.count;
  Connection connection{url};
  amqp_connection_state_t conn = connection.get();
  connection.DeclareDurableQueue(queue, args.queue_type);
  amqp_basic_qos(conn, kChannel, 0, args.prefetch, 0);
  CheckReply(amqp_get_rpc_reply(conn), "basic.qos");
  amqp_basic_consume(conn, kChannel, Bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  CheckReply(amqp_get_rpc_reply(conn), "basic.consume");
  if (ready) ready();

  Clock::time_point start;
  std::uint32_t received = 0;
  auto last_progress = Clock::now();
  while (received < count) {
    amqp_envelope_t envelope;
    amqp_maybe_release_buffers(conn);
    timeval timeout{1, 0};
    const amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, &timeout, 0);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
      if (abandon != nullptr && abandon->load()) {
        throw std::runtime_error("the publisher failed; " + std::to_string(received) + " of " +
                                 std::to_string(count) + " messages consumed");
      }
      if (Clock::now() - last_progress > kIdleLimit) {
        throw std::runtime_error("only " + std::to_string(received) + " of " +
                                 std::to_string(count) + " messages arrived within 30 s");
      }
      continue;
    }
    CheckReply(reply, "consume");
    if (received == 0) start = Clock::now();
    CheckStatus(amqp_basic_ack(conn, kChannel, envelope.delivery_tag, 0), "basic.ack");
    amqp_destroy_envelope(&envelope);
    ++received;
    if (received % 1000 == 0) last_progress = Clock::now();
  }
  return {start, Clock::now()};
}

/// The consumer (its own connection and thread, on --consume-url or --url) registered first,
/// then the publisher on --url; returns the seconds from the first publish to the last ack.
double Pipeline(const Args& args) {
  const std::string consume_url = args.consume_url.empty() ? args.url : args.consume_url;
  std::promise<void> registered;
  std::future<void> consumer_ready = registered.get_future();
  std::atomic<bool> publisher_failed{false};
  std::promise<Span> consumed;
  std::future<Span> consumer_done = consumed.get_future();
  std::jthread consumer{[&] {
    bool signalled = false;
    try {
      consumed.set_value(Consume(
          args, consume_url,
          [&] {
            signalled = true;
            registered.set_value();
          },
          &publisher_failed));
    } catch (...) {
      if (!signalled) registered.set_exception(std::current_exception());
      consumed.set_exception(std::current_exception());
    }
  }};
  consumer_ready.get();  // throws what stopped the consumer before it registered
  Span published;
  try {
    published = Publish(args, Messages{.body_bytes = args.body_bytes, .with_message_id = true});
  } catch (...) {
    publisher_failed = true;
    throw;  // the jthread joins once the consumer sees the flag
  }
  const Span delivered = consumer_done.get();
  return std::chrono::duration<double>(delivered.end - published.start).count();
}

void Delete(const std::string& url, const std::string& queue) {
  Connection connection{url};
  for (const std::string& name : {queue, queue + ".dlq"}) {
    amqp_queue_delete(connection.get(), kChannel, Bytes(name), 0, 0);
    CheckReply(amqp_get_rpc_reply(connection.get()), "delete queue");
  }
}

int Run(int argc, char* argv[]) {
  try {
    const Args args = ParseArgs(argc, argv, "amqp_raw_bench");
    if (args.mode == "publish") {
      PrintResult("raw", args, Publish(args, Messages{.body_bytes = args.body_bytes}).Seconds());
    } else if (args.mode == "consume") {
      PrintResult("raw", args, Consume(args, args.url).Seconds());
    } else if (args.mode == "pipeline") {
      PrintResult("raw", args, Pipeline(args));
    } else if (args.mode == "delete") {
      Delete(args.url, args.queue);
    } else {
      throw std::runtime_error("unknown mode '" + args.mode +
                               "' (publish, consume, pipeline, delete)");
    }
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "amqp_raw_bench: %s\n", e.what());
    return EXIT_FAILURE;
  }
}

}  // namespace
}  // namespace cppblog::bench

int main(int argc, char* argv[]) { return cppblog::bench::Run(argc, argv); }
