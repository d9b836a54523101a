// SPDX-License-Identifier: Apache-2.0
#include "lib/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace capsule {

void setup_logging(Verbosity v)
{
    // Commands that re-read global flags after the image (run, prepare) configure again.
    spdlog::drop("capsule");
    auto logger = spdlog::stderr_logger_st("capsule");
    logger->set_pattern(v == Verbosity::Debug ? "capsule[%P] %H:%M:%S.%e %^%l%$: %v" : "capsule: %v");
    switch (v) {
    case Verbosity::Quiet:
        logger->set_level(spdlog::level::err);
        break;
    case Verbosity::Normal:
        logger->set_level(spdlog::level::info);
        break;
    case Verbosity::Debug:
        logger->set_level(spdlog::level::debug);
        break;
    }
    spdlog::set_default_logger(logger);
}

} // namespace capsule
