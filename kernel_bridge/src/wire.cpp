#include "kernel_bridge/wire.hpp"

#include "kernel_bridge/errors.hpp"

namespace kernel_bridge {
using nlohmann::json;

static const std::string delimiter = "<IDS|MSG>";

wire::wire(std::unique_ptr<signer> s) : signer_(std::move(s)) {}

wire::wire(const std::string& scheme, const std::string& key) : wire(make_sodium_signer(scheme, key)) {}

wire::~wire() = default;

std::string wire::sign(const std::string& header, const std::string& parent, const std::string& metadata,
                       const std::string& content) const {
    return signer_->sign(header, parent, metadata, content);
}

std::vector<std::string> wire::serialize(const message& msg) const {
    std::vector<std::string> out;
    out.reserve(msg.identities.size() + 6 + msg.buffers.size());
    for (const auto& id : msg.identities) out.push_back(id);
    std::string h = msg.header.dump(), p = msg.parent_header.dump(), md = msg.metadata.dump(),
                c = msg.content.dump(-1, ' ', false, json::error_handler_t::replace);
    out.push_back(delimiter);
    out.push_back(sign(h, p, md, c));
    out.push_back(std::move(h));
    out.push_back(std::move(p));
    out.push_back(std::move(md));
    out.push_back(std::move(c));
    for (const auto& b : msg.buffers) out.push_back(b);
    return out;
}

static json parse_part(const std::string& text, const char* what) {
    try {
        json j = json::parse(text);
        if (!j.is_object()) throw bad_message(std::string(what) + " is not a JSON object");
        return j;
    } catch (const json::exception&) {  // parse_error, and out_of_range for 1e400
        throw bad_message(std::string(what) + " is not valid JSON");
    }
}

message wire::deserialize(std::vector<std::string> parts) const {
    std::size_t d = 0;
    while (d < parts.size() && parts[d] != delimiter) ++d;
    if (d == parts.size()) throw bad_message("no <IDS|MSG> delimiter");
    if (parts.size() < d + 6) throw bad_message("too few frames after the delimiter");

    const std::string& signature = parts[d + 1];
    const std::string &h = parts[d + 2], &p = parts[d + 3], &md = parts[d + 4], &c = parts[d + 5];
    if (!signer_->verify(signature, h, p, md, c)) throw bad_message("wrong signature");
    message msg;
    msg.identities.assign(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(d));
    msg.header = parse_part(h, "header");
    msg.parent_header = parse_part(p, "parent header");
    msg.metadata = parse_part(md, "metadata");
    msg.content = parse_part(c, "content");
    msg.buffers.assign(parts.begin() + static_cast<std::ptrdiff_t>(d) + 6, parts.end());
    if (msg.msg_type().empty()) throw bad_message("header has no msg_type");
    return msg;
}

}  // namespace kernel_bridge
