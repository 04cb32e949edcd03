#include "tree_sync.hpp"

#include <fstream>
#include <sodium.h>

#include <kernel_bridge/errors.hpp>

#include "log.hpp"

namespace ltest {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono;

// A kernel hashing a large tree for the first time, or writing many files.
static constexpr auto sync_timeout = seconds(600);
// Base64 bytes per write request: well under the websocket's and ZeroMQ's
// message limits (a larger file goes alone).
static constexpr std::size_t batch_bytes = 4 << 20;

static json call(warm_kernel& k, const std::string& func, const json& arg) {
    kernel_bridge::execute_options opts;
    opts.user_expressions = runtime_result_expression();
    std::string error;
    kernel_bridge::execute_handlers handlers;
    handlers.on_iopub = [&](const kernel_bridge::message& m) {
        if (m.msg_type() == "error") error = m.content.value("ename", "") + ": " + m.content.value("evalue", "");
    };
    kernel_bridge::message reply =
        k.client().execute(runtime_call_code(func, arg), opts, handlers, sync_timeout, [&] { return k.alive(); });
    if (reply.content.value("status", "") != "ok")
        throw std::runtime_error("ltest's runtime failed in the kernel: " +
                                 (error.empty() ? reply.content.value("ename", std::string("error")) : error));
    auto result = runtime_result(reply.content);
    if (!result) throw std::runtime_error("ltest's runtime in the kernel gave no answer to " + func);
    return *result;
}

static std::string base64(const std::string& bytes) {
    std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // its NUL
    return out;
}

std::optional<sync_plan> tree_sync::plan(warm_kernel& k, const fs::path& root, sync_mode mode, sync_outcome& out) {
    sync_plan p;
    p.t0 = steady_clock::now();
    p.root = root;
    p.mode = mode;
    p.t = manifest_.make(root);
    p.manifest_ms = duration<double, std::milli>(steady_clock::now() - p.t0).count();
    p.hashed = manifest_.hashed_last();
    out.files = p.t.files.size();
    p.key = std::make_pair(k.gateway_kernel_id(), root.string());
    auto known = synced_.find(p.key);
    if (known != synced_.end() && known->second.hash == p.t.hash) {
        out.kernel_root = known->second.kernel_root;
        log::kernel().debug("the tree of kernel {} is unchanged ({} files listed, {} hashed; manifest {:.2f} ms)",
                            k.gateway_kernel_id(), p.t.files.size(), p.hashed, p.manifest_ms);
        return std::nullopt;
    }
    // After a sync the server knows the kernel's copy: what changed on the
    // client since is sent at once, written where it differs (one request;
    // in a shared checkout the host has it already and nothing is written).
    // Otherwise the kernel compares first, and with refuse only compares.
    p.delta = known != synced_.end();
    p.one_request = p.delta && mode == sync_mode::send;
    if (p.delta) {
        for (const auto& [rel, f] : p.t.files) {
            auto was = known->second.files.find(rel);
            if (was == known->second.files.end() || was->second.sha256 != f.sha256) p.differ.push_back(rel);
        }
        for (const auto& [rel, f] : known->second.files)
            if (!p.t.files.count(rel)) p.extra.push_back(rel);
        p.kernel_root = known->second.kernel_root;
        synced_.erase(known);  // remembered again only once the kernel has the tree
    }
    return p;
}

void tree_sync::remember(sync_plan&& p, const sync_outcome& out) {
    if (!out.error.empty()) return;
    synced_[p.key] = synced{p.t.hash, out.kernel_root, std::move(p.t.files)};
}

sync_outcome tree_sync::exchange(warm_kernel& k, sync_plan& p) {
    sync_outcome out;
    out.compared = true;
    out.files = p.t.files.size();
    out.kernel_root = p.kernel_root;
    const fs::path& root = p.root;
    const tree& t = p.t;
    std::vector<std::string> differ = p.differ, extra = p.extra;
    std::string host = "?";
    if (!p.one_request) {
        json files = json::object();
        if (p.delta) {
            for (const auto& rel : differ) files[rel] = t.files.at(rel).sha256;
        } else {
            for (const auto& [rel, f] : t.files) files[rel] = f.sha256;
        }
        json request{{"root", root.string()}, {"files", std::move(files)}};
        if (p.delta) request["removed"] = extra;
        else request["listing"] = t.git ? "git" : "walk";
        json cmp = call(k, "tree_compare", request);
        host = cmp.value("host", host);
        out.kernel_root = cmp.value("root", root.string());
        if (cmp.contains("unsafe") && cmp["unsafe"].is_string()) {
            out.error = cmp["unsafe"].get<std::string>();
            return out;
        }
        differ = cmp.value("differ", std::vector<std::string>{});
        extra = cmp.value("extra", std::vector<std::string>{});
        if (p.mode == sync_mode::refuse && (!differ.empty() || !extra.empty())) {
            std::string first = differ.empty() ? extra.front()
                                : extra.empty() ? differ.front()
                                                : std::min(differ.front(), extra.front());
            std::size_t n = differ.size() + extra.size();
            out.error = "the project tree of the kernel on " + host + " (" + out.kernel_root.string() +
                        ") differs from this one: first differing file " + first + " (" + std::to_string(n) +
                        (n == 1 ? " file differs" : " files differ") + "; [tool.ltest] gateway_sync = \"send\" sends them)";
            return out;
        }
    }
    if (!differ.empty() || !extra.empty()) {
        // The files in batches; the deletions with the last one.
        std::vector<json> batches(1, json::object());
        std::size_t size = 0;
        for (const auto& rel : differ) {
            std::ifstream in(root / rel, std::ios::binary);
            if (!in) {
                out.error = "cannot read " + (root / rel).string() + " to send it to the kernel";
                return out;
            }
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::string data = base64(bytes);
            if (size > 0 && size + data.size() > batch_bytes) {
                batches.push_back(json::object());
                size = 0;
            }
            size += data.size();
            auto f = t.files.find(rel);
            batches.back()[rel] = json{{"sha256", sha256_hex(bytes)}, {"data", std::move(data)},
                                       {"exec", f != t.files.end() && f->second.exec}};
        }
        for (std::size_t i = 0; i < batches.size(); ++i) {
            json request{{"root", root.string()}, {"files", batches[i]}, {"if_differs", p.one_request},
                         {"delete", i + 1 == batches.size() ? json(extra) : json::array()}};
            json w = call(k, "tree_write", request);
            if (w.contains("error") && w["error"].is_string()) {
                out.error = w["error"].get<std::string>();
                return out;
            }
            host = w.value("host", host);
            out.kernel_root = w.value("root", out.kernel_root.string());
            out.sent += static_cast<int>(w.value("written", json::array()).size());
            out.deleted += static_cast<int>(w.value("deleted", json::array()).size());
            for (const auto& m : w.value("stale_modules", json::array())) out.stale_modules.push_back(m.get<std::string>());
        }
        log::kernel().info("brought the tree of kernel {} on {} up to date: {} files sent, {} deleted "
                           "({} files listed, {} hashed; manifest {:.2f} ms, in all {:.2f} ms)",
                           k.gateway_kernel_id(), host, out.sent, out.deleted, t.files.size(), p.hashed,
                           p.manifest_ms, duration<double, std::milli>(steady_clock::now() - p.t0).count());
    }
    return out;
}

}  // namespace ltest
