// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/command.h"
#include "stage1/common/interface.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace capsule::cmd {

namespace {

struct VersionOptions {
    std::string format { "text" };
};

/// Interface version of the stage1 exec ABI this stage0 speaks (Documentation/stage1-interface.md);
/// stage1s speaking older versions down to stage1_interface::min_version still run.
constexpr int stage1_interface_version = stage1_interface::version;

nlohmann::json version_json()
{
    return {
        { "version", CAPSULE_VERSION },
        { "appc_version", "0.8.11" },
        { "stage1_interface_version", stage1_interface_version },
        { "stage1_flavours", { "fly", "systemd", "kvm" } },
        { "features", { "aci", "overlay", "signatures", "oci", "systemd", "kvm" } },
    };
}

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<VersionOptions>();
    auto* sub = add_subcommand(ctx, "version", "Print the version, features and stage1 interface version");
    sub->add_option("--format", opts->format, "Output format: text or json")->check(CLI::IsMember({ "text", "json" }));
    sub->callback([opts, set = ctx.set_action] {
        set([opts]() -> Result<int> {
            auto j = version_json();
            if (opts->format == "json") {
                std::puts(j.dump(2).c_str());
                return 0;
            }
            std::printf("capsule version %s\n", CAPSULE_VERSION);
            std::printf("appc version %s\n", j["appc_version"].get<std::string>().c_str());
            std::printf("stage1 interface version %d\n", stage1_interface_version);
            std::string features;
            for (auto& f : j["features"])
                features += (features.empty() ? "" : " ") + f.get<std::string>();
            std::printf("features: %s\n", features.c_str());
            return 0;
        });
    });
}

const CommandRegistration registration("version", 90, setup);

} // namespace

} // namespace capsule::cmd
