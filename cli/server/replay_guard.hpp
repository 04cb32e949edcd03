#pragma once
// Remembers recent msg_ids so that a captured request cannot be replayed.
#include <deque>
#include <set>
#include <string>

namespace ltest {

class replay_guard {
public:
    bool first_time(const std::string& id) {
        if (!seen_.insert(id).second) return false;
        order_.push_back(id);
        if (order_.size() > 4096) {
            seen_.erase(order_.front());
            order_.pop_front();
        }
        return true;
    }

private:
    std::set<std::string> seen_;
    std::deque<std::string> order_;
};

}  // namespace ltest
