// SPDX-License-Identifier: Apache-2.0
// capsule image: the subcommand group, and `image list`.
#include "cmd/capsule/image_common.h"
#include "lib/units.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace capsule::cmd {

namespace {

struct ListOptions {
    std::string format { "table" };
    std::string fields { "id,name,blobsize,treesize,imported,lastused" };
    bool full { false };
    bool no_legend { false };
};

// Field name -> legend; the JSON output always has every field.
const std::vector<std::pair<std::string, std::string>> list_fields = {
    { "id", "ID" },
    { "name", "NAME" },
    { "version", "VERSION" },
    { "blobsize", "BLOB SIZE" },
    { "treesize", "TREE SIZE" },
    { "size", "SIZE" },
    { "imported", "IMPORTED" },
    { "lastused", "LAST USED" },
    { "origin", "ORIGIN" },
    { "type", "TYPE" },
    { "signedby", "SIGNED BY" },
};

std::string cell(const store::ImageInfo& i, const std::string& field, bool full, int64_t now)
{
    if (field == "id")
        return full ? i.id : store::short_id(i.id);
    if (field == "name") {
        auto v = i.version();
        return v.empty() ? i.name : i.name + ":" + v;
    }
    if (field == "version")
        return i.version();
    if (field == "blobsize")
        return human_size(i.blob_size);
    if (field == "treesize")
        return human_size(i.tree_size);
    if (field == "size")
        return human_size(i.blob_size + i.tree_size);
    if (field == "imported")
        return full ? format_rfc3339(i.import_time) : human_age(i.import_time, now);
    if (field == "lastused")
        return i.last_used == 0 ? "never" : full ? format_rfc3339(i.last_used) : human_age(i.last_used, now);
    if (field == "origin")
        return i.origin;
    if (field == "signedby")
        return i.signed_by.empty() ? "-" : i.signed_by;
    return i.type;
}

nlohmann::json to_json(const store::ImageInfo& i)
{
    nlohmann::json labels = nlohmann::json::object();
    for (auto& l : i.labels)
        labels[l.name] = l.value;
    return {
        { "id", i.id },
        { "name", i.name },
        { "version", i.version() },
        { "labels", labels },
        { "type", i.type },
        { "origin", i.origin },
        { "blob_size", i.blob_size },
        { "tree_size", i.tree_size },
        { "import_time", format_rfc3339(i.import_time) },
        { "last_used", i.last_used ? nlohmann::json(format_rfc3339(i.last_used)) : nlohmann::json(nullptr) },
        { "signed_by", i.signed_by.empty() ? nlohmann::json(nullptr) : nlohmann::json(i.signed_by) },
    };
}

Result<int> list(const GlobalOptions& g, const ListOptions& o)
{
    if (o.format != "table" && o.format != "json")
        return Error::msg("image list: --format=" + o.format + ": expected table or json");
    // --full with the default columns also shows who signed each image.
    std::string field_list = o.full && o.fields == ListOptions().fields ? o.fields + ",signedby" : o.fields;
    std::vector<std::string> fields;
    for (size_t start = 0; start <= field_list.size();) {
        auto end = std::min(field_list.find(',', start), field_list.size());
        auto f = field_list.substr(start, end - start);
        bool known = std::any_of(list_fields.begin(), list_fields.end(), [&](auto& kv) { return kv.first == f; });
        if (!known)
            return Error::msg("image list: --fields: unknown field '" + f
                + "' (known: id, name, version, blobsize, treesize, size, imported, lastused, origin, type, signedby)");
        fields.push_back(f);
        start = end + 1;
    }
    auto store = TRY(store::Store::open(g.dir));
    auto images = TRY(store->list());
    if (o.format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (auto& i : images)
            out.push_back(to_json(i));
        std::puts(out.dump(2).c_str());
        return 0;
    }
    std::vector<std::string> legend;
    if (!o.no_legend)
        for (auto& f : fields)
            for (auto& [key, title] : list_fields)
                if (key == f)
                    legend.push_back(title);
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    std::vector<std::vector<std::string>> rows;
    rows.reserve(images.size());
    for (auto& i : images) {
        std::vector<std::string> row;
        for (auto& f : fields)
            row.push_back(cell(i, f, o.full, now));
        rows.push_back(std::move(row));
    }
    print_table(legend, rows);
    return 0;
}

void setup(CommandContext& ctx)
{
    auto* image
        = add_subcommand(ctx, "image", "Manage stored images (list, rm, gc, cat-manifest, export, extract, render)");
    image->require_subcommand(1);

    auto o = std::make_shared<ListOptions>();
    auto* sub = add_subcommand(*image, "list", "List stored images");
    sub->alias("ls");
    sub->add_option("--format", o->format, "Output format: table or json")->capture_default_str();
    sub->add_option("--fields", o->fields,
           "Columns: id,name,version,blobsize,treesize,size,imported,lastused,origin,type,signedby")
        ->capture_default_str();
    sub->add_flag("--full", o->full, "Full image IDs and absolute times");
    sub->add_flag("--no-legend", o->no_legend, "Do not print the header line");
    sub->callback([&g = ctx.globals, set = ctx.set_action, o] { set([&g, o] { return list(g, *o); }); });
}

const CommandRegistration registration("image", 30, setup);

} // namespace

} // namespace capsule::cmd
