#include <cstdlib>
#include <exception>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cppblog/config/command_line.hpp"
#include "cppblog/config/loader.hpp"
#include "cppblog/health/health_registry.hpp"
#include "cppblog/logging/logging.hpp"
#include "cppblog/web/host_address.hpp"
#include "cppblog/web/server.hpp"

#include "account_handlers.hpp"
#include "account_store.hpp"
#include "settings.hpp"

namespace cppblog::account {

int Run(int argc, char* argv[]) {
  try {
    const auto options = config::ParseCommandLine(argc, argv, kServiceName, std::cout);
    if (!options) return EXIT_SUCCESS;  // --help or --version was printed
    logging::Init(kServiceName, options->log_format);

    const config::Properties defaults = Settings::Defaults();
    const auto settings = Settings::From(
        config::Load({.app = kServiceName, .command_line = *options, .defaults = defaults}));
    logging::SetLevel(settings.log_level);

    // Wiring in dependency order; destruction in reverse is the shutdown order.
    AccountStore accounts{settings.data_dir};
    health::HealthRegistry health;
    health::HealthSwitch health_switch;
    AddHealthChecks(health, accounts, health_switch);
    web::Server server{{.port = settings.server_port},
                       MakeRouter({.accounts = accounts,
                                   .health = health,
                                   .health_switch = health_switch,
                                   .served_by = web::FirstNonLoopbackIpv4()})};
    spdlog::info("{} listening on :{} data_dir={}", kServiceName, server.Port(),
                 settings.data_dir.string());

    server.RunUntilSignal();
    spdlog::info("{} stopped", kServiceName);
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    spdlog::critical("{} stopped: {}", kServiceName, e.what());
    return EXIT_FAILURE;
  }
}

}  // namespace cppblog::account

int main(int argc, char* argv[]) { return cppblog::account::Run(argc, argv); }
