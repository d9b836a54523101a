// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/command.h"
#include "stage0/stage1_image.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace capsule::cmd {

namespace {

void setup(CommandContext& ctx)
{
    auto* sub = add_subcommand(ctx, "config", "Print the effective configuration as JSON");
    sub->callback([&g = ctx.globals, set = ctx.set_action] {
        set([&g]() -> Result<int> {
            std::string insecure = g.insecure_options_text.empty() ? "none" : g.insecure_options_text;
            nlohmann::json j = {
                { "paths",
                    {
                        { "data", g.dir },
                        { "store", g.dir + "/store" },
                        { "pods", g.dir + "/pods" },
                        { "localConfig", g.local_config },
                        { "systemConfig", g.system_config },
                        { "userConfig", g.user_config },
                    } },
                { "insecureOptions", insecure },
                { "trustKeysFromHttps", g.trust_keys_from_https },
                { "stage1", { { "defaultFlavour", stage0::default_stage1_flavour() } } },
            };
            std::puts(j.dump(2).c_str());
            return 0;
        });
    });
}

const CommandRegistration registration("config", 91, setup);

} // namespace

} // namespace capsule::cmd
