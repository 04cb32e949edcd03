#include "shard_job.hpp"

#include <algorithm>

namespace ltest {
using nlohmann::json;

// A batch is at most this many tests: few round trips while the queue is
// long, single tests at its end so that no kernel waits on another.
static constexpr std::size_t max_batch = 16;
// ... and about 1/(this * workers) of what is left.
static constexpr std::size_t batches_per_worker = 4;

void shard_job::set_ids(const std::vector<std::string>& ids) {
    if (ids_known_) return;
    ids_known_ = true;
    queue_.assign(ids.begin(), ids.end());
}

std::vector<std::vector<std::string>> shard_job::take(int kernel, int idle, int workers) {
    std::vector<std::vector<std::string>> out;
    if (workers > 0) workers_[kernel] = workers;
    if (stopped_ || !ids_known_) return out;
    std::size_t total = 0;
    for (const auto& [k, n] : workers_) total += static_cast<std::size_t>(n);
    total = std::max<std::size_t>(total, 1);
    for (int i = 0; i < idle && !queue_.empty(); ++i) {
        std::size_t size = std::clamp<std::size_t>(queue_.size() / (batches_per_worker * total), 1, max_batch);
        std::vector<std::string> batch;
        while (batch.size() < size && !queue_.empty()) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        for (const auto& id : batch) outstanding_[kernel].insert(id);
        handed_out_ += batch.size();
        out.push_back(std::move(batch));
    }
    return out;
}

static std::string nodeid_of(const json& e) {
    if (e.contains("nodeid") && e["nodeid"].is_string()) return e["nodeid"].get<std::string>();
    if (e.contains("data") && e["data"].is_object() && e["data"].contains("nodeid") && e["data"]["nodeid"].is_string())
        return e["data"]["nodeid"].get<std::string>();
    return {};
}

// A test's events are held until its logfinish, then go into `into` whole.
void shard_job::collect(int kernel, const json& events, json& into) {
    if (!events.is_array()) return;
    auto& progress = in_progress_[kernel];
    for (const auto& e : events) {
        if (!e.is_object()) continue;
        std::string event = e.value("event", "");
        if (event == "warning") {  // not a test's: on at once
            into.push_back(e);
            continue;
        }
        std::string id = nodeid_of(e);
        json& held = progress[id];
        if (!held.is_array()) held = json::array();
        held.push_back(e);
        if (event != "logfinish") continue;
        for (auto& h : held) into.push_back(std::move(h));
        progress.erase(id);
        outstanding_[kernel].erase(id);
        ++finished_by_[kernel];
    }
}

void shard_job::from_helper(int kernel, const json& events) { collect(kernel, events, events_); }

void shard_job::from_lead(const json& events) { collect(lead_, events, delivered_); }

json shard_job::take_events() {
    json out = json::array();
    std::swap(out, events_);
    for (const auto& e : out) delivered_.push_back(e);
    return out;
}

std::vector<std::string> shard_job::take_notes() {
    std::vector<std::string> out;
    std::swap(out, notes_);
    delivered_notes_.insert(delivered_notes_.end(), out.begin(), out.end());
    return out;
}

json shard_job::take_lost() {
    json out = json::array();
    std::swap(out, lost_);
    return out;
}

void shard_job::helper_finished(int kernel) {
    helpers_.erase(kernel);
    workers_.erase(kernel);
    outstanding_.erase(kernel);
    in_progress_.erase(kernel);
    finished_at_[kernel] = requeues_;
}

void shard_job::helper_lost(int kernel, const std::string& why) {
    if (!helpers_.count(kernel)) return;
    helpers_.erase(kernel);
    requeue(kernel, why);
}

bool shard_job::lead_lost(const std::string& why, std::size_t kernels) {
    if (stopped_ || ++takeovers_ >= kernels) return false;
    requeue(lead_, why);
    // The next lead's report starts from the beginning: everything the
    // last one had, then what came since.
    json all = std::move(delivered_);
    delivered_ = json::array();
    for (auto& e : events_) all.push_back(std::move(e));
    events_ = std::move(all);
    notes_.insert(notes_.begin(), delivered_notes_.begin(), delivered_notes_.end());
    delivered_notes_.clear();
    lead_ = -1;
    return true;
}

bool shard_job::may_join(int kernel) const {
    if (!ids_known_ || stopped_ || queue_.empty() || kernel == lead_ || helpers_.count(kernel)) return false;
    auto f = finished_at_.find(kernel);
    return f == finished_at_.end() || f->second < requeues_;
}

void shard_job::requeue(int kernel, const std::string& why) {
    workers_.erase(kernel);
    std::vector<std::string> again;
    for (const auto& id : outstanding_[kernel]) {
        if (requeued_.insert(id).second)
            again.push_back(id);
        else
            lost_.push_back(json::array({id, why + " (for the second time: not run again)"}));
    }
    outstanding_.erase(kernel);
    in_progress_.erase(kernel);
    if (!again.empty() && !stopped_) {
        queue_.insert(queue_.begin(), again.begin(), again.end());
        ++requeues_;
        notes_.push_back("ltest: " + why + "; its " + std::to_string(again.size()) +
                         " unfinished test(s) run again on another kernel");
    } else if (!again.empty()) {
        for (const auto& id : again) lost_.push_back(json::array({id, why}));
    }
}

bool shard_job::all_done() const {
    return dispatch_done() && helpers_.empty() && events_.empty() && notes_.empty() && lost_.empty();
}

}  // namespace ltest
