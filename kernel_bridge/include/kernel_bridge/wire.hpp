#pragma once
// Framing and signing: <IDS|MSG>, HMAC over header, parent, metadata, content.
// Knows nothing of sockets: a message is a list of frames (zmq/zmq_frames.hpp
// adapts them to libzmq's multipart messages; the ltest client has no libzmq).
#include <memory>
#include <string>
#include <vector>

#include "kernel_bridge/message.hpp"
#include "kernel_bridge/signer.hpp"

namespace kernel_bridge {

class wire {
public:
    explicit wire(std::unique_ptr<signer> s);
    // scheme "hmac-sha256" (or ""); an empty key = unsigned, as Jupyter allows.
    // Signs with libsodium (make_sodium_signer).
    wire(const std::string& scheme, const std::string& key);
    ~wire();
    wire(const wire&) = delete;
    wire& operator=(const wire&) = delete;

    std::vector<std::string> serialize(const message& msg) const;
    // Throws bad_message on a missing delimiter, too few frames, a wrong
    // signature or JSON that does not parse.
    message deserialize(std::vector<std::string> frames) const;

    std::string sign(const std::string& header, const std::string& parent,
                     const std::string& metadata, const std::string& content) const;

private:
    std::unique_ptr<signer> signer_;
};

}  // namespace kernel_bridge
